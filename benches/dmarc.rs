//! Benchmark dmarc (divan): written with the crate it measures.

fn main() {
    divan::main();
}
