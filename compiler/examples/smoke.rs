fn main() {
    let args: Vec<String> = std::env::args().collect();
    let wasm = std::fs::read(&args[1]).unwrap();
    let t = std::time::Instant::now();
    match precast_compiler::compile(
        &wasm,
        &precast_compiler::Config {
            verify: args.len() > 3,
            ..Default::default()
        },
    ) {
        Ok(a) => {
            std::fs::write(&args[2], a).unwrap();
            eprintln!("ok in {:?}", t.elapsed());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
