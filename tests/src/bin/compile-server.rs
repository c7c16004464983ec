//! `compile-server [--target TRIPLE] [--cpu CPU] [--no-signals]`: compiles the wasm modules a cross-built
//! conformance runner sends on stdin and answers with artifacts on stdout (see
//! `precast_tests::compile`). Started by the runners, not by hand.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut config = precast_compiler::Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--no-signals" {
            config.settings = precast_compiler::format::Settings::without_signals();
            continue;
        }
        let value = args.next();
        let parsed = match (a.as_str(), value) {
            ("--target", Some(t)) => {
                config.target = t;
                Ok(())
            }
            ("--cpu", Some(c)) => c.parse().map(|cpu| config.cpu = cpu),
            (other, _) => Err(format!("unknown argument `{other}`")),
        };
        if let Err(e) = parsed {
            eprintln!("compile-server: {e}");
            return ExitCode::from(2);
        }
    }
    match precast_tests::compile::serve(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compile-server: {e}");
            ExitCode::FAILURE
        }
    }
}
