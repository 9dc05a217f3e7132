//! Memory under a burst of large SOAP pushes (issue 17, bounded memory): a real `ronghe serve`
//! in a child process (so its resident set is the server's alone, clients excluded) on a new
//! SQLite store; after one small warm-up push its RSS is the baseline, then `clients` signed GBK
//! envelopes of about `body_kb` KiB each are pushed at once; the child's peak RSS (VmHWM) is the
//! figure, and its RSS after the burst (after `SETTLE`) says whether the memory came back. A second
//! burst of as many new cases follows on the same server: its RSS after that one says whether what
//! stayed is a working set that the next burst reuses, or grows with each burst.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ronghe_adapters::signing::Signer;
use ronghe_adapters::sim::data;
use ronghe_adapters::sim::soap::{Push, case_xml};
use ronghe_crypto::MacAlgorithm;
use serde::Serialize;

use crate::store::{Store, StoreOptions};

const SYSTEM: &str = "bench-soap";
const SECRET: &str = "bench-soap-secret";
/// The simulator's case series the burst pushes.
const SERIES: u64 = 4343;
/// How long the server is left alone after the burst before its RSS is read again.
const SETTLE: Duration = Duration::from_secs(5);
/// Records per push at most (`intake.max_batch` of the benchmark system).
const MAX_BATCH: usize = 500;

/// One burst and the server's resident set around it.
#[derive(Debug, Clone, Serialize)]
pub struct Burst {
    pub clients: usize,
    /// Bytes of each push as sent (the GBK envelope).
    pub body_bytes: usize,
    pub records_per_push: usize,
    /// Records the server acknowledged as accepted (all of them, or the bench fails).
    pub accepted: usize,
    pub seconds: f64,
    /// The server's RSS after start-up and a warm-up push, in KiB.
    pub before_kib: u64,
    /// The server's peak RSS (VmHWM) over its life up to the end of the first burst, in KiB.
    pub peak_kib: u64,
    /// The server's RSS `SETTLE` after the burst, in KiB.
    pub after_kib: u64,
    /// Of the RSS before and after: anonymous memory (the heap: malloc's arenas, SQLite's page
    /// caches), in KiB (`RssAnon`); the rest is mapped files (`RssFile`: the binary, the store's
    /// WAL index) and shared memory.
    pub before_anon_kib: u64,
    pub after_anon_kib: u64,
    /// The server's RSS `SETTLE` after a second, equal burst of new cases, in KiB.
    pub after_second_kib: u64,
    pub after_second_anon_kib: u64,
    /// The server's peak RSS over both bursts, in KiB.
    pub peak_both_kib: u64,
}

impl Burst {
    pub fn line(&self) -> String {
        let mib = |kib: u64| kib as f64 / 1024.0;
        format!(
            "SOAP burst, {} clients × {:.2} MB ({} records each): {:.1} s · server RSS before {:.1} MiB ({:.1} anonymous), peak {:.1} MiB (+{:.1}), after {}s {:.1} MiB ({:.1} anonymous), after a second burst {:.1} MiB ({:.1} anonymous), peak over both {:.1} MiB",
            self.clients,
            self.body_bytes as f64 / 1e6,
            self.records_per_push,
            self.seconds,
            mib(self.before_kib),
            mib(self.before_anon_kib),
            mib(self.peak_kib),
            mib(self.peak_kib.saturating_sub(self.before_kib)),
            SETTLE.as_secs(),
            mib(self.after_kib),
            mib(self.after_anon_kib),
            mib(self.after_second_kib),
            mib(self.after_second_anon_kib),
            mib(self.peak_both_kib),
        )
    }
}

/// A burst of `clients` concurrent pushes of about `body_kb` KiB each against a new server,
/// for each of `concurrency`.
pub async fn run(body_kb: usize, concurrency: &[usize]) -> anyhow::Result<Vec<Burst>> {
    let mut bursts = Vec::new();
    for (round, &clients) in concurrency.iter().enumerate() {
        let dir = std::env::temp_dir().join(format!("ronghe-bench-burst-{}-{round}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let result = burst(&dir, body_kb, clients.max(1)).await;
        let _ = std::fs::remove_dir_all(&dir);
        bursts.push(result?);
    }
    Ok(bursts)
}

/// A `<办件>` element of the series' case `i`; a case with an opinion has it lengthened to
/// `opinion_chars` (a long review, within what the case's validation allows).
fn record(i: usize, opinion_chars: usize) -> String {
    let mut case = data::case(SERIES, i);
    if let Some(opinion) = case.opinion.as_mut() {
        let filler = "经审查,申请人提交的材料齐全、符合法定形式,";
        while opinion.chars().count() < opinion_chars {
            opinion.push_str(filler);
        }
        *opinion = opinion.chars().take(opinion_chars.max(1)).collect();
    }
    case_xml(&case)
}

/// The pushes of one burst: `clients` envelopes (GBK) of about `body_kb` KiB each (at most
/// `MAX_BATCH` records), distinct cases from `first` on; the most records in one, and in all.
fn envelopes(push: &Push, body_kb: usize, clients: usize, first: usize) -> (Vec<Vec<u8>>, usize, usize) {
    let target = body_kb * 1024;
    // GBK: one byte per ASCII character, two for the others.
    let gbk_len = |s: &str| s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>();
    let mut next = first;
    let mut records_per_push = 0;
    let bodies = (0..clients)
        .map(|_| {
            let (mut records, mut size) = (Vec::new(), 0);
            while size < target && records.len() < MAX_BATCH {
                let record = record(next, 900);
                next += 1;
                size += gbk_len(&record);
                records.push(record);
            }
            records_per_push = records_per_push.max(records.len());
            push.envelope(&records)
        })
        .collect();
    (bodies, records_per_push, next - first)
}

async fn burst(dir: &Path, body_kb: usize, clients: usize) -> anyhow::Result<Burst> {
    let mappings = dir.join("mappings");
    std::fs::create_dir_all(&mappings)?;
    std::fs::write(
        mappings.join(format!("{SYSTEM}.toml")),
        include_str!("../../mappings/sim-soap.toml"),
    )?;
    let database = format!("sqlite://{}/ronghe.db", dir.display());
    let store = Store::open(&database, &StoreOptions::default()).await?;
    super::register_as(&store, SYSTEM, "soap", "http://127.0.0.1:1/").await?;
    store
        .set_writeback_config(
            SYSTEM,
            &format!(
                "[[keys]]\nid = \"bench\"\nalgorithm = \"hmac-sha256\"\nsecret = \"env:BENCH_SOAP\"\n\n[intake]\nmax_batch = {MAX_BATCH}\nsoap_record = \"办件\"\n"
            ),
            "bench",
        )
        .await?;
    store.close().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = dir.join("ronghe.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{database}\"\nmappings_dir = \"mappings\"\nmax_body_bytes = {}\n",
            (body_kb * 1024 * 2).max(1024 * 1024)
        ),
    )?;
    let exe = std::env::current_exe().context("cannot find the ronghe binary")?;
    let child = Command::new(exe)
        .arg("--config")
        .arg(&config)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("BENCH_SOAP", SECRET)
        .env("RONGHE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the server")?;
    let server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .pool_max_idle_per_host(clients)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        anyhow::ensure!(Instant::now() < deadline, "the server did not start in a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let path = format!("/soap/{SYSTEM}/writeback");
    let push = Push::new(
        format!("{url}{path}"),
        Some(Signer::new(
            "bench",
            MacAlgorithm::HmacSha256,
            SECRET.as_bytes().to_vec(),
        )),
    );
    // Warm-up: the mapping compiled, the config built, the pool's connections open.
    let warm = push.envelope(&[record(0, 0)]);
    anyhow::ensure!(
        send(&http, &push, &path, warm).await? == 1,
        "the warm-up push was not accepted"
    );
    let before_kib = server.status("VmRSS:")?;
    let before_anon_kib = server.status("RssAnon:")?;
    let (bodies, records_per_push, records) = envelopes(&push, body_kb, clients, 1);
    let body_bytes = bodies.iter().map(Vec::len).max().unwrap_or(0);
    let started = Instant::now();
    let accepted = push_all(&http, &push, &path, bodies).await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(accepted == records, "{accepted} of {records} records accepted");
    let peak_kib = server.status("VmHWM:")?;
    tokio::time::sleep(SETTLE).await;
    let after_kib = server.status("VmRSS:")?;
    let after_anon_kib = server.status("RssAnon:")?;
    let (bodies, _, second) = envelopes(&push, body_kb, clients, 1 + records);
    let accepted_second = push_all(&http, &push, &path, bodies).await?;
    anyhow::ensure!(
        accepted_second == second,
        "{accepted_second} of {second} records of the second burst accepted"
    );
    tokio::time::sleep(SETTLE).await;
    let after_second_kib = server.status("VmRSS:")?;
    let after_second_anon_kib = server.status("RssAnon:")?;
    let peak_both_kib = server.status("VmHWM:")?;
    Ok(Burst {
        clients,
        body_bytes,
        records_per_push,
        accepted,
        seconds,
        before_kib,
        peak_kib,
        after_kib,
        before_anon_kib,
        after_anon_kib,
        after_second_kib,
        after_second_anon_kib,
        peak_both_kib,
    })
}

/// Sends `bodies` at once, each on its own task: how many records the answers accepted.
async fn push_all(
    http: &reqwest::Client,
    push: &Push,
    path: &str,
    bodies: Vec<Vec<u8>>,
) -> anyhow::Result<usize> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (http, push, path) = (http.clone(), push.clone(), path.to_owned());
            tokio::spawn(async move { send(&http, &push, &path, body).await })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await??;
    }
    Ok(accepted)
}

/// Signs `body` as `push` would and sends it: how many records the answer accepted.
async fn send(http: &reqwest::Client, push: &Push, path: &str, body: Vec<u8>) -> anyhow::Result<usize> {
    let signer = push.signer.as_ref().context("the burst signs its pushes")?;
    let signed = signer.sign("POST", path, &body)?;
    let mut request = http
        .post(&push.url)
        .header("content-type", push.version.content_type("GBK", ""));
    for (name, value) in signed.headers {
        request = request.header(name, value);
    }
    let response = request.body(signed.body).send().await?;
    let status = response.status();
    let answer = response.text().await?;
    anyhow::ensure!(status.is_success(), "push answered {status}: {answer:.300}");
    Ok(answer.matches("result=\"accepted\"").count())
}

/// The child server, killed when dropped.
struct Server(Child);

impl Server {
    /// A `kB` line of the child's `/proc/PID/status`, in KiB.
    fn status(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))
            .context("cannot read the server's /proc status (Linux only)")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in the server's status"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
