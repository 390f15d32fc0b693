//! `produce_http` on mimalloc, the allocator the `weft` binary runs on (`crates/weft/src/main.rs`):
//! the same rows, the same client, so the two allocators compare in one sitting.
//!
//! `cargo bench -p weft-server --bench produce_http_mimalloc [-- ingest]`

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "produce_http.rs"]
mod produce_http;

fn main() {
    produce_http::main();
}
