//! The `ronghe` binary: everything lives in the library; see `ronghe --help`.

fn main() -> std::process::ExitCode {
    ronghe::cli::main()
}
