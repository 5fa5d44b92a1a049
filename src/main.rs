//! The `garnet` binary: parse, run, exit. Everything else lives in the library.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    garnet::run(std::env::args_os()).into()
}
