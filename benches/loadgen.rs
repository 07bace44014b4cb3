//! Load generator: drives a running milter with the fake-MTA client (written with issue 2).

fn main() {}
