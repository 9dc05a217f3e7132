//! The `ronghe` binary: everything lives in the library; see `ronghe --help`.

/// The binary's allocator (issue 17, bounded memory): jemalloc, for Rust's allocations and, as
/// the process's `malloc`, for SQLite's and the other C libraries' too, built with background
/// purging, a one-second decay of freed pages and one arena (`JEMALLOC_SYS_WITH_MALLOC_CONF` in
/// `.cargo/config.toml`), so the memory a burst of large pushes took goes back to the system
/// within seconds and the next burst reuses what stays. glibc's malloc kept a burst's peak for
/// good (README, performance). An operator can still override the settings at start with
/// `MALLOC_CONF` (e.g. `narenas:4` on a host with many cores).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    ronghe::cli::main()
}
