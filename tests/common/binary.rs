//! Running the `ronghe` binary in a sandbox directory with its own SQLite store, for the
//! end-to-end CLI tests, and `ronghe serve` on a real socket.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ronghe_adapters::sim::rest::RestSim;
use serde_json::Value;

/// One finished run of the binary.
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code and that stdout contains every one of `stdout_has`.
    pub fn check(self, code: i32, stdout_has: &[&str]) -> Run {
        assert_eq!(self.code, code, "exit code of {self}");
        for needle in stdout_has {
            assert!(self.stdout.contains(needle), "stdout lacks {needle:?}: {self}");
        }
        self
    }

    /// Asserts that stderr contains every one of `stderr_has`.
    pub fn stderr_has(self, stderr_has: &[&str]) -> Run {
        for needle in stderr_has {
            assert!(self.stderr.contains(needle), "stderr lacks {needle:?}: {self}");
        }
        self
    }

    /// Asserts that `secret` appears neither on stdout nor on stderr.
    pub fn never_shows(self, secret: &str) -> Run {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "{secret:?} is shown in clear: {self}"
        );
        self
    }

    /// Stdout as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ronghe {:?} exited {}\n--- stdout\n{}--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `ronghe ARGS` in `dir` with a clean environment, feeding `stdin` if given.
pub fn run_ronghe(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ronghe"))
        .args(args)
        .current_dir(dir)
        .env_remove("RONGHE_CONFIG")
        .env_remove("RONGHE_DATABASE_URL")
        .env_remove("RONGHE_LISTEN")
        .env_remove("RONGHE_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the ronghe binary");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input).expect("write to ronghe's stdin");
    }
    let output = child.wait_with_output().expect("wait for ronghe");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: output
            .status
            .code()
            .expect("ronghe exited normally, not by a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// `systems add` arguments for a valid REST system with this id at `endpoint`.
pub fn add_system_args<'a>(id: &'a str, endpoint: &'a str) -> Vec<&'a str> {
    vec![
        "systems",
        "add",
        "--id",
        id,
        "--name",
        "市场监管许可系统",
        "--department",
        "贵阳市市场监督管理局",
        "--region",
        "520100",
        "--protocol",
        "rest",
        "--endpoint",
        endpoint,
    ]
}

/// A temporary directory with its own platform store, `DIR/ronghe.db`.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Tokens of the accounts `run_as` acts as, made on first use.
    tokens: std::cell::RefCell<std::collections::HashMap<String, String>>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("create a temporary directory"),
            tokens: Default::default(),
        }
    }

    /// A token of the account `id` in this sandbox's store, created on first use holding
    /// `grants` (ROLE@SCOPE), enrolled and signed in as its person would (see
    /// `common::enrolled`). Runs on its own thread, so sync and async tests can call it.
    pub fn token_with(&self, id: &str, grants: &[&str]) -> String {
        if let Some(token) = self.tokens.borrow().get(id) {
            return token.clone();
        }
        let (url, account) = (self.database(), id.to_owned());
        let grants: Vec<String> = grants.iter().map(|g| (*g).to_owned()).collect();
        let token = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async {
                    let store = ronghe::store::Store::open(&url, &Default::default())
                        .await
                        .expect("open the sandbox store");
                    let grants: Vec<&str> = grants.iter().map(String::as_str).collect();
                    let token = super::staff_token(&store, &account, &grants).await;
                    store.close().await;
                    token
                })
        })
        .join()
        .expect("the account was made");
        self.tokens.borrow_mut().insert(id.to_owned(), token.clone());
        token
    }

    /// A token of the expert account `id` (created on first use).
    pub fn expert(&self, id: &str) -> String {
        self.token_with(id, &["expert@province"])
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn database(&self) -> String {
        format!("sqlite://{}", self.path("ronghe.db").display())
    }

    /// Writes a file into the sandbox and returns its path as an argument.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write a fixture file");
        path.display().to_string()
    }

    /// Runs `ronghe --database sqlite://DIR/ronghe.db ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// Runs `ronghe --database sqlite://DIR/ronghe.db --token TOKEN ARGS` with the token of the
    /// expert account `actor` (made on first use; see `token_with` for other roles).
    pub fn run_as(&self, actor: &str, args: &[&str]) -> Run {
        let token = self.expert(actor);
        let mut all = vec!["--token", token.as_str()];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Runs `ronghe --token TOKEN ARGS` with a given token.
    pub fn run_with_token(&self, token: &str, args: &[&str]) -> Run {
        let mut all = vec!["--token", token];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Writes `ronghe.toml`: the years the embedded calendar lacks around today as plain weekday
    /// years (`plain_years_toml`), then the `extra` lines. Returns its path and that calendar.
    pub fn plain_calendar_config(&self, extra: &str) -> (String, ronghe::calendar::Calendar) {
        let years = self.write("years.toml", super::plain_years_toml());
        let config = self.write(
            "ronghe.toml",
            format!("calendar_override = {}\n{extra}", Value::from(years.as_str())),
        );
        let calendar =
            ronghe::calendar::Calendar::load(Some(Path::new(&years))).expect("the plain years load");
        (config, calendar)
    }

    /// Runs `ronghe --config CONFIG --database sqlite://DIR/ronghe.db ARGS`.
    pub fn run_configured(&self, config: &str, args: &[&str]) -> Run {
        let mut all = vec!["--config", config];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Registers a REST system with this id at `endpoint` (exit 0 expected).
    pub fn add_system(&self, id: &str, endpoint: &str) {
        self.run(&add_system_args(id, endpoint)).check(0, &[]);
    }

    /// Registers a SQL system with this id at the database `url` and attaches the adapter config
    /// at `adapter` (exit 0 expected of both).
    pub fn attach_sql(&self, id: &str, url: &str, adapter: &str) {
        let mut add = add_system_args(id, url);
        let protocol = add.len() - 3;
        add[protocol] = "sql";
        self.run(&add).check(0, &[]);
        self.run(&["adapters", "attach", id, adapter]).check(0, &[]);
    }

    pub fn run_with(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let database = self.database();
        let mut all = vec!["--database", database.as_str()];
        all.extend_from_slice(args);
        run_ronghe(self.dir.path(), &all, stdin)
    }
}

/// The system id `attached_rest` registers the REST simulator under.
pub const SYSTEM: &str = "sim-rest";

/// A sandbox with the REST simulator registered as `sim-rest` and its adapter checked and attached.
pub fn attached_rest(sim: &RestSim) -> Sandbox {
    let sandbox = Sandbox::new();
    let key = sandbox.write("rest.key", ronghe_adapters::sim::rest::API_KEY);
    let config = ronghe_adapters::sim::rest::adapter_config(&sim.running.url(), &format!("file:{key}"));
    let config = sandbox.write("rest.toml", config);
    sandbox.add_system(SYSTEM, &sim.running.url());
    sandbox
        .run(&["adapters", "check", &config])
        .check(0, &["有效 valid: rest adapter config"]);
    sandbox
        .run(&["adapters", "attach", SYSTEM, &config])
        .check(0, &["已绑定 attached"]);
    sandbox
}

/// `accounts bootstrap`'s arguments for the first administrator the tests enrol (a valid
/// resident ID; the provincial centre's scope).
pub const BOOTSTRAP_PERSON: [&str; 12] = [
    "--id",
    "lin-ping",
    "--name",
    "林平",
    "--resident-id",
    "11010519491231002X",
    "--mobile",
    "13800000000",
    "--agency",
    "省政务服务中心",
    "--region",
    "520000",
];

/// A running `ronghe serve`; killed if the test fails before stopping it.
pub struct Server {
    child: Child,
    pub base: String,
    /// Reads the server's log (JSON lines on stderr) to its end and answers it.
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Server {
    /// Starts the binary on an ephemeral port and waits (with a deadline) for its address.
    pub fn start(database_url: &str, config: &std::path::Path) -> Server {
        Server::start_logging(database_url, config, None)
    }

    /// `start`, with `RONGHE_LOG` set to `level` when given (else inherited).
    pub fn start_logging(database_url: &str, config: &std::path::Path, level: Option<&str>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ronghe"));
        command
            .args(["--log-format", "json", "--config"])
            .arg(config)
            .args(["--database", database_url, "serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(level) = level {
            command.env("RONGHE_LOG", level);
        }
        let mut child = command.spawn().expect("spawn ronghe serve");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let listen = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v["fields"]["listen"].as_str().map(str::to_owned));
                if let Some(listen) = listen {
                    let _ = tx.send(listen);
                }
                lines.push(line);
            }
            lines
        });
        let listen = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server logged its address within 60 s");
        Server {
            child,
            base: format!("http://{listen}"),
            log: Some(log),
        }
    }

    /// Stops the server as `stop` does and answers everything it logged, one line each.
    pub fn stop_and_read_log(mut self) -> Vec<String> {
        terminate(&mut self.child, "ronghe serve");
        self.log
            .take()
            .expect("the log is read once")
            .join()
            .expect("the log reader finished")
    }

    /// Kills the process with SIGKILL, as a power cut would, and waits for it.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL ronghe serve");
        self.child.wait().expect("wait for the killed server");
    }

    /// Sends SIGTERM and waits (with a deadline) for a clean exit.
    pub fn stop(mut self) {
        terminate(&mut self.child, "ronghe serve");
    }
}

/// Sends `child` (the command `what`) SIGTERM and waits (with a deadline) for a clean exit.
fn terminate(child: &mut Child, what: &str) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{what} exited with {status} after SIGTERM");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `ronghe demo` run to the end of its journey and still serving (without `--exit`): what it
/// printed so far, and the web console's address it names; killed if the test fails before
/// stopping it.
pub struct Demo {
    child: Child,
    pub stdout: String,
    /// The console's address (`http://localhost:PORT`, no trailing slash).
    pub console: String,
    /// Its log (stderr), shown when the test fails.
    log: std::path::PathBuf,
}

impl Demo {
    /// Runs `ronghe demo --listen 127.0.0.1:0 --dir DIR/demo --cases CASES` in `dir` and waits
    /// (with a deadline) until the journey is done and the platform serves on.
    pub fn start(dir: &Path, cases: usize) -> Demo {
        let cases = cases.to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ronghe"))
            .args([
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--dir",
                "demo",
                "--cases",
                &cases,
            ])
            .current_dir(dir)
            .env_remove("RONGHE_CONFIG")
            .env_remove("RONGHE_DATABASE_URL")
            .env_remove("RONGHE_LISTEN")
            .env_remove("RONGHE_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("demo-stderr.log")).expect("the demo's log file"))
            .spawn()
            .expect("start ronghe demo");
        let stdout = child.stdout.take().expect("stdout piped");
        // Owned from here: killed and waited for when the test fails before stopping it.
        let mut demo = Demo {
            child,
            stdout: String::new(),
            console: String::new(),
            log: dir.join("demo-stderr.log"),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end even once nobody listens: a closed pipe would make the demo's next
            // line to stdout fail (seen: "failed printing to stdout: Broken pipe").
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut printed = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("ronghe demo did not finish its journey ({e}):\n{printed}"));
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with("== 完成 done ==") {
                break;
            }
        }
        // The lines after the heading, up to the last one the closing note prints at once.
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("sign in as a person") {
                break;
            }
        }
        demo.console = printed
            .lines()
            .filter_map(|l| l.split("网页控制台 the web console: ").nth(1))
            .next_back()
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no console address in\n{printed}"))
            .trim_end_matches('/')
            .to_owned();
        demo.stdout = printed;
        demo
    }

    /// The authenticator secret (base32) the demo printed for `account` in its accounts table.
    pub fn totp_secret(&self, account: &str) -> String {
        self.stdout
            .lines()
            .map(|line| {
                line.split(['|', '│'])
                    .map(str::trim)
                    .filter(|cell| !cell.is_empty())
                    .collect::<Vec<_>>()
            })
            .find(|cells| cells.first() == Some(&account))
            .and_then(|cells| cells.last().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| panic!("no row for {account} in\n{}", self.stdout))
    }

    /// The password of every demo account, as the demo printed it.
    pub fn password(&self) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.split("演示密码 demo password (all): ").nth(1))
            .map(|p| p.trim().to_owned())
            .unwrap_or_else(|| panic!("no demo password in\n{}", self.stdout))
    }

    /// Sends SIGTERM and waits (with a deadline) for a clean exit.
    pub fn stop(mut self) {
        terminate(&mut self.child, "ronghe demo");
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let status = self.child.try_wait();
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "ronghe demo (exited: {status:?}); the last lines of its log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
