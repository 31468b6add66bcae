//! The `spectrans` command-line tool. Every failure prints one line naming the file, field or
//! shape at fault and exits with a non-zero code.

mod cli;

fn main() {
    if let Err(e) = cli::run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
