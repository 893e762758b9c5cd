fn main() {
    for a in std::env::args().skip(1) {
        match deaap_gen::load_model(std::path::Path::new(&a)) {
            Ok(m) => println!("{a}: ok ({} services)", m.services.len()),
            Err(e) => println!("{a}: {e}"),
        }
    }
}
