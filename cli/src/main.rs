//! `marketmedia`: upload product videos and images to every marketplace at once (the
//! marketplaces of `marketmedia::registry()`; `marketmedia --help` names them).
//! See `docs/cli.md`, or `marketmedia --help`.

fn main() {
    cap_malloc_arenas();
    std::process::exit(marketmedia_cli::main_with(marketmedia_cli::Setup::default()));
}

/// With glibc, caps malloc's arenas at 2, as `MALLOC_ARENA_MAX=2` would, unless the
/// variable is set (then glibc has applied it already). glibc gives each thread that
/// allocates under contention an arena of its own, up to 8 per core, and memory freed in an
/// arena stays with it: the runtime's blocking threads (file reads, digests) each kept some,
/// and the catalog benchmark's worker peaked at 59.1 MiB against 53.1 MiB with 2 arenas, in
/// the same time (42.9 s and 42.8 s, `docs/benchmarks.md`).
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets an allocator parameter; it is called here before any
        // other thread exists. A refusal (return 0) leaves glibc's default, which is fine.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
