//! The `garnet` binary: parse, run, exit. Everything else lives in the library.

fn main() -> std::process::ExitCode {
    garnet::run(std::env::args_os()).into()
}
