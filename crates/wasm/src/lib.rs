//! lua-persist's wasm32 module: our Lua VM with external tables, behind a C ABI.
//!
//! All of the project's `unsafe` lives in this crate: `abi.rs` (exports and the IO buffer)
//! and `imports.rs` (the `env.js_*` imports). The module targets `wasm32-unknown-unknown`
//! only; on other targets this crate is empty so workspace-wide native builds pass.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![cfg(target_arch = "wasm32")]

extern crate alloc;

mod abi;
mod imports;

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
