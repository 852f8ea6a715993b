//! `loadfile` and `dofile`, and the file loading `require` shares with them: a chunk read
//! through the host (standard input for no name), a UTF-8 byte-order mark and a first line
//! starting with `#` skipped as lua5.4 skips them.

use alloc::vec::Vec;

use vm::function::LuaClosure;
use vm::host::{HostResult, OpenMode};
use vm::lib::{bug, Action, Catch, Cont, Error, NativeCall, Outcome};
use vm::state::Ctx;
use vm::value::Value;

use super::base::load_chunk;
use super::set_fns;

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

pub fn open(ctx: Ctx<'_>) {
    set_fns(
        ctx,
        ctx.globals(),
        &[("dofile", dofile), ("loadfile", loadfile)],
    );
}

/// Loads the file at `path` (standard input for `None`) as a chunk named `@path`
/// (`=stdin`); `mode` says whether text and binary chunks are allowed. The error is the
/// message `loadfile` returns.
pub fn load_file<'gc>(
    ctx: Ctx<'gc>,
    path: Option<&[u8]>,
    mode: &[u8],
    env: Option<Value<'gc>>,
) -> Result<LuaClosure<'gc>, Vec<u8>> {
    let shown: &[u8] = path.unwrap_or(b"stdin");
    let fail = |what: &str, message: &str| {
        let mut m = alloc::format!("cannot {what} ").into_bytes();
        m.extend_from_slice(shown);
        m.extend_from_slice(b": ");
        m.extend_from_slice(message.as_bytes());
        m
    };
    let contents = match path {
        Some(path) => {
            let mut file = ctx
                .with_host(|h| h.open(path, OpenMode::Read))
                .map_err(|e| fail("open", &e.message))?;
            let contents = read_to_end(|buf| file.read(buf));
            let _ = file.close();
            contents
        }
        None => super::io::read_stdin_to_end(ctx),
    };
    let contents = contents.map_err(|e| fail("read", &e.message))?;
    let name = match path {
        Some(path) => [b"@", path].concat(),
        None => b"=stdin".to_vec(),
    };
    load_chunk(ctx, &chunk_text(contents), &name, mode, env)
}

/// Reads until `read` says the end came.
pub(crate) fn read_to_end(
    mut read: impl FnMut(&mut [u8]) -> HostResult<usize>,
) -> HostResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = alloc::vec![0; 8192];
    loop {
        let n = read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n.min(buf.len())]);
    }
}

/// The text the compiler gets from a file: without a byte-order mark, and with a first
/// line starting with `#` emptied (kept as a newline so line numbers stay right; a binary
/// chunk after it loses the newline too).
fn chunk_text(mut contents: Vec<u8>) -> Vec<u8> {
    if contents.starts_with(b"\xEF\xBB\xBF") {
        contents.drain(..3);
    }
    if contents.first() != Some(&b'#') {
        return contents;
    }
    let rest = match contents.iter().position(|&c| c == b'\n') {
        Some(i) => i + 1,
        None => contents.len(),
    };
    let binary = contents.get(rest) == Some(&0x1b);
    contents.drain(..rest);
    if !binary {
        contents.insert(0, b'\n');
    }
    contents
}

fn loadfile<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let path = call.opt_string(ctx, 0)?.map(|s| s.as_bytes());
    let mode = call
        .opt_string(ctx, 1)?
        .map_or(&b"bt"[..], |m| m.as_bytes());
    let env = (call.nargs() >= 3).then(|| call.arg(2));
    match load_file(ctx, path, mode, env) {
        Ok(f) => call.ret1(Value::from(f)),
        Err(msg) => call.ret(&[Value::Nil, ctx.str_value(&msg)]),
    }
}

fn dofile<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let path = call.opt_string(ctx, 0)?.map(|s| s.as_bytes());
    let f = load_file(ctx, path, b"bt", None).map_err(|msg| Error::Value(ctx.str_value(&msg)))?;
    call.set_nargs(0);
    call.push(Value::from(f));
    Ok(Action::Call {
        at: 0,
        then: Cont::yieldable(dofile_cont, Catch::No),
    })
}

fn dofile_cont<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    let Outcome::Returned { at } = outcome else {
        bug() // dofile does not catch
    };
    call.ret_from(at)
}

#[cfg(test)]
mod tests {
    use super::chunk_text;

    #[test]
    fn first_lines_and_marks_are_skipped_as_lua_skips_them() {
        assert_eq!(chunk_text(b"return 1".to_vec()), b"return 1");
        assert_eq!(chunk_text(b"#!lua\nreturn 1".to_vec()), b"\nreturn 1");
        assert_eq!(chunk_text(b"# no end".to_vec()), b"\n");
        assert_eq!(chunk_text(b"\xEF\xBB\xBFreturn 2".to_vec()), b"return 2");
        assert_eq!(chunk_text(b"\xEF\xBB\xBF# c\nx".to_vec()), b"\nx");
        assert_eq!(chunk_text(b"#c\0\n\x1bLua".to_vec()), b"\x1bLua");
    }
}
