//! The `carematch` command.

fn main() {
    println!("carematch {}", carematch::VERSION);
}
