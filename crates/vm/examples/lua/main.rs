//! A native `lua` that behaves like Debian's `lua5.4` for stdout, stderr and exit status:
//! the conformance runner of the VM (golden corpus, official test suite). Files, commands
//! and the environment are the process's own, through [`host::StdHost`].

mod cli;
mod host;

use std::cell::RefCell;
use std::io::{BufWriter, IsTerminal, LineWriter, Write};
use std::rc::Rc;

fn main() {
    let args: Vec<Vec<u8>> = std::env::args_os()
        .map(|a| a.into_encoded_bytes())
        .collect();
    // Buffered as C buffers standard output: by lines on a terminal, in blocks otherwise.
    let out: Box<dyn Write> = if std::io::stdout().is_terminal() {
        Box::new(LineWriter::new(std::io::stdout()))
    } else {
        Box::new(BufWriter::new(std::io::stdout()))
    };
    let streams = Rc::new(RefCell::new(host::Streams {
        out,
        err: Box::new(std::io::stderr()),
        input: Box::new(std::io::stdin()),
    }));
    let status = cli::main_with(args, streams.clone(), std::io::stdin().is_terminal());
    let _ = streams.borrow_mut().out.flush();
    std::process::exit(status);
}
