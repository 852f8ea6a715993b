//! The `io` library on the host's files and standard streams: `FILE*` userdata with
//! lua5.4's methods, metamethods, results and messages. Files come from [`Host::open`];
//! a host without files makes `io.open` fail the Lua way (`nil, msg, errno`) while the
//! standard streams keep working. What else reads standard input (`loadfile()`,
//! `debug.debug`, an interactive loop) reads it here, through the same buffer.
//!
//! [`Host::open`]: vm::Host::open

mod stream;

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use vm::function::NativeClosure;
use vm::host::{HostError, HostResult, OpenMode, ProcessEnd, Whence};
use vm::lib::{
    at, bug, cell_mut, cell_ref, Action, Catch, Cont, Error, NativeCall, NativeFn, Outcome,
};
use vm::number::{write_float_g, write_int, Number};
use vm::state::Ctx;
use vm::userdata::UserData;
use vm::value::Value;

use super::{register_lib, set_field, set_fns};
use stream::{Buffering, Closed, Stream};

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

/// What a `FILE*` userdata holds.
type Handle = Rc<RefCell<Stream>>;

/// Registry keys: the default input and output files, and the files' metatable.
const INPUT: &[u8] = b"_IO_input";
const OUTPUT: &[u8] = b"_IO_output";
const FILE_META: &[u8] = b"FILE*";
/// Registry key of standard input's file, for the readers outside `io`.
const STDIN: &[u8] = b"_IO_stdin";

/// Most formats `lines` keeps for its iterator.
const MAX_LINE_FORMATS: usize = 250;
/// `setvbuf`'s size when none is given (lua5.4's `LUAL_BUFFERSIZE`).
const DEFAULT_VBUF: i64 = 1024;

pub fn open(ctx: Ctx<'_>) {
    let io = register_lib(
        ctx,
        "io",
        &[
            ("close", io_close),
            ("flush", io_flush),
            ("input", input),
            ("lines", io_lines),
            ("open", open_file),
            ("output", output),
            ("popen", popen),
            ("read", io_read),
            ("tmpfile", tmpfile),
            ("type", type_),
            ("write", io_write),
        ],
    );
    let methods = ctx.new_table();
    set_fns(
        ctx,
        methods,
        &[
            ("close", close),
            ("flush", flush),
            ("lines", lines),
            ("read", read),
            ("seek", seek),
            ("setvbuf", setvbuf),
            ("write", write),
        ],
    );
    let meta = ctx.new_table();
    set_field(ctx, meta, b"__index", Value::Table(methods));
    set_fns(
        ctx,
        meta,
        &[
            ("__gc", collect),
            ("__close", collect),
            ("__tostring", tostring),
        ],
    );
    set_field(ctx, meta, b"__name", ctx.str_value(FILE_META));
    set_field(ctx, ctx.registry(), FILE_META, Value::Table(meta));

    let standard = [
        ("stdin", Stream::stdin(), &[INPUT, STDIN][..]),
        ("stdout", Stream::stdout(), &[OUTPUT]),
        ("stderr", Stream::stderr(), &[]),
    ];
    for (name, stream, keys) in standard {
        let file = new_file(ctx, stream);
        set_field(ctx, io, name.as_bytes(), file);
        for key in keys {
            set_field(ctx, ctx.registry(), key, file);
        }
    }
}

/// `debug.debug`: runs each line read from standard input, prompting on standard error,
/// until a line `cont` or the end of the input. Errors are shown and the loop goes on.
pub(crate) fn debug_prompt<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let Some(stdin) = handle_of(ctx.registry().get_str(ctx.intern(STDIN))) else {
        return call.ret0();
    };
    loop {
        ctx.with_host(|h| h.write_err(b"lua_debug> "));
        let line = cell_mut(&stdin).read_line(ctx, true);
        let line = match line {
            Ok(Some(line)) if line != b"cont\n" => line,
            _ => return call.ret0(),
        };
        match ctx.load(&line, b"=(debug command)", None) {
            Ok(f) => {
                call.set_nargs(0);
                call.push(Value::from(f));
                let then = Cont {
                    f: debug_command_done,
                    catch: Catch::Yes,
                    yieldable: false,
                    state: 0,
                };
                return Ok(Action::Call { at: 0, then });
            }
            Err(e) => {
                let message = [&e.message[..], b"\n"].concat();
                ctx.with_host(|h| h.write_err(&message));
            }
        }
    }
}

fn debug_command_done<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    if let Outcome::Raised(e) = outcome {
        let mut message = vm::lib::tostring_plain(ctx, e);
        message.push(b'\n');
        ctx.with_host(|h| h.write_err(&message));
    }
    call.set_nargs(0);
    debug_prompt(ctx, call)
}

/// A line of standard input (with its newline when `keep_newline`), through the buffer
/// `io.read` shares: what an interactive loop reads between the statements it runs.
pub fn read_stdin_line(ctx: Ctx<'_>, keep_newline: bool) -> HostResult<Option<Vec<u8>>> {
    match handle_of(ctx.registry().get_str(ctx.intern(STDIN))) {
        Some(stdin) => cell_mut(&stdin).read_line(ctx, keep_newline),
        None => Ok(None),
    }
}

/// The rest of standard input, through its file's buffer (what `io.read` read ahead).
pub(crate) fn read_stdin_to_end(ctx: Ctx<'_>) -> HostResult<Vec<u8>> {
    match handle_of(ctx.registry().get_str(ctx.intern(STDIN))) {
        Some(stdin) => cell_mut(&stdin).read_all(ctx),
        None => super::load_file::read_to_end(|buf| ctx.with_host(|h| h.read_stdin(buf))),
    }
}

/// A `FILE*` userdata for `stream`, finalized (closed) when collected.
fn new_file<'gc>(ctx: Ctx<'gc>, stream: Stream) -> Value<'gc> {
    let handle: Handle = Rc::new(RefCell::new(stream));
    let file = UserData::new(ctx.mc, Box::new(handle));
    let meta = match ctx.registry().get_str(ctx.intern(FILE_META)) {
        Value::Table(t) => Some(t),
        _ => None,
    };
    file.set_metatable(ctx.mc, meta);
    vm::lib::note_metatable(ctx, Value::UserData(file), meta);
    Value::UserData(file)
}

/// The stream of a `FILE*` value.
fn handle_of(v: Value<'_>) -> Option<Handle> {
    match v {
        Value::UserData(u) => u.with_data(|h: &Handle| h.clone()),
        _ => None,
    }
}

/// Argument 1 as an open file (`tofile`).
fn check_file<'gc>(ctx: Ctx<'gc>, call: &NativeCall<'_, 'gc>) -> Result<Handle, Error<'gc>> {
    let handle = handle_of(call.arg(0)).ok_or_else(|| call.type_err(ctx, 0, "FILE*"))?;
    if cell_ref(&handle).is_closed() {
        return Err(Error::runtime("attempt to use a closed file"));
    }
    Ok(handle)
}

/// The default input or output file, which must be open (`getiofile`).
fn default_file<'gc>(ctx: Ctx<'gc>, key: &[u8]) -> Result<(Value<'gc>, Handle), Error<'gc>> {
    let file = ctx.registry().get_str(ctx.intern(key));
    match handle_of(file) {
        Some(h) if !cell_ref(&h).is_closed() => Ok((file, h)),
        _ => {
            let which = if key == INPUT { "input" } else { "output" };
            Err(Error::runtime(format!("default {which} file is closed")))
        }
    }
}

/// `nil, message, errno` (`luaL_fileresult` for a failure); the message names `name`.
pub(crate) fn fail<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    e: HostError,
    name: Option<&[u8]>,
) -> R<'gc> {
    let message = match name {
        Some(name) => {
            let mut m = name.to_vec();
            m.extend_from_slice(b": ");
            m.extend_from_slice(e.message.as_bytes());
            ctx.str_value(&m)
        }
        None => ctx.str_value(e.message.as_bytes()),
    };
    call.ret(&[Value::Nil, message, Value::Integer(e.code.into())])
}

/// `true`, or the failure (`luaL_fileresult`).
pub(crate) fn file_result<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    result: HostResult<()>,
    name: Option<&[u8]>,
) -> R<'gc> {
    match result {
        Ok(()) => call.ret1(Value::from(true)),
        Err(e) => fail(ctx, call, e, name),
    }
}

/// How a command ended, as `os.execute` and a pipe's `close` report it
/// (`luaL_execresult`): `true|nil, "exit"|"signal", code`.
pub(crate) fn exec_result<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    result: HostResult<ProcessEnd>,
) -> R<'gc> {
    let (what, code) = match result {
        Ok(ProcessEnd::Exit(code)) => ("exit", code),
        Ok(ProcessEnd::Signal(signal)) => ("signal", signal),
        Err(e) => return fail(ctx, call, e, None),
    };
    let ok = if what == "exit" && code == 0 {
        Value::Boolean(true)
    } else {
        Value::Nil
    };
    call.ret(&[
        ok,
        ctx.str_value(what.as_bytes()),
        Value::Integer(code.into()),
    ])
}

/// Opens `name` or raises lua5.4's error (`io.lines`, `io.input`, `io.output`).
fn open_or_raise<'gc>(
    ctx: Ctx<'gc>,
    name: &[u8],
    mode: OpenMode,
) -> Result<Value<'gc>, Error<'gc>> {
    match ctx.with_host(|h| h.open(name, mode)) {
        Ok(f) => Ok(new_file(
            ctx,
            Stream::file(f, mode.readable(), mode.writable()),
        )),
        Err(e) => Err(Error::runtime(format!(
            "cannot open file '{}' ({})",
            alloc::string::String::from_utf8_lossy(name),
            e.message
        ))),
    }
}

fn open_file<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let name = call.check_bytes(ctx, 0)?;
    let mode = match call.opt_string(ctx, 1)? {
        Some(m) => m.as_bytes(),
        None => b"r",
    };
    let mode = OpenMode::parse(mode).ok_or_else(|| Error::bad_arg(2, "invalid mode"))?;
    match ctx.with_host(|h| h.open(name, mode)) {
        Ok(f) => {
            let file = new_file(ctx, Stream::file(f, mode.readable(), mode.writable()));
            call.ret1(file)
        }
        Err(e) => fail(ctx, call, e, Some(name)),
    }
}

fn popen<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let command = call.check_bytes(ctx, 0)?;
    let mode = match call.opt_string(ctx, 1)?.map(|m| m.as_bytes()) {
        None | Some(b"r") => OpenMode::Read,
        Some(b"w") => OpenMode::Write,
        Some(_) => return Err(Error::bad_arg(2, "invalid mode")),
    };
    match ctx.with_host(|h| h.popen(command, mode)) {
        Ok(f) => {
            let file = new_file(ctx, Stream::pipe(f, mode == OpenMode::Read));
            call.ret1(file)
        }
        Err(e) => fail(ctx, call, e, Some(command)),
    }
}

fn tmpfile<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    match ctx.with_host(|h| h.tmpfile()) {
        Ok(f) => {
            let file = new_file(ctx, Stream::file(f, true, true));
            call.ret1(file)
        }
        Err(e) => fail(ctx, call, e, None),
    }
}

fn type_<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let v = call.check_any(ctx, 0)?;
    match handle_of(v) {
        Some(h) if cell_ref(&h).is_closed() => call.ret1(ctx.str_value(b"closed file")),
        Some(_) => call.ret1(ctx.str_value(b"file")),
        None => call.ret1(Value::Nil),
    }
}

/// `io.input`/`io.output`: sets the default file from a name or a file, returns it.
fn default_io<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    key: &[u8],
    mode: OpenMode,
) -> R<'gc> {
    let file = match call.arg(0) {
        Value::Nil => None,
        Value::String(_) | Value::Integer(_) | Value::Float(_) => {
            let name = call.check_bytes(ctx, 0)?;
            Some(open_or_raise(ctx, name, mode)?)
        }
        v => {
            check_file(ctx, call)?;
            Some(v)
        }
    };
    let key = ctx.intern(key);
    if let Some(file) = file {
        ctx.registry().set_str(ctx.mc, key, file);
    }
    call.ret1(ctx.registry().get_str(key))
}

fn input<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    default_io(ctx, call, INPUT, OpenMode::Read)
}

fn output<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    default_io(ctx, call, OUTPUT, OpenMode::Write)
}

/// Closes the stream of argument 1 and returns what lua5.4's close returns.
fn close_stream<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, handle: &Handle) -> R<'gc> {
    let closed = cell_mut(handle).close(ctx);
    match closed {
        Closed::Standard => call.ret(&[Value::Nil, ctx.str_value(b"cannot close standard file")]),
        Closed::File(result) => file_result(ctx, call, result, None),
        Closed::Pipe(result) => exec_result(ctx, call, result),
    }
}

fn close<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let handle = check_file(ctx, call)?;
    close_stream(ctx, call, &handle)
}

fn io_close<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    if call.nargs() == 0 {
        let out = ctx.registry().get_str(ctx.intern(OUTPUT));
        call.push(out);
    }
    close(ctx, call)
}

/// `__gc` and `__close`: closes the file if it is still open.
fn collect<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let handle = handle_of(call.arg(0)).ok_or_else(|| call.type_err(ctx, 0, "FILE*"))?;
    let open = !cell_ref(&handle).is_closed();
    if open {
        let _ = cell_mut(&handle).close(ctx);
    }
    call.ret0()
}

fn tostring<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let handle = handle_of(call.arg(0)).ok_or_else(|| call.type_err(ctx, 0, "FILE*"))?;
    let text = if cell_ref(&handle).is_closed() {
        alloc::string::String::from("file (closed)")
    } else {
        format!("file (0x{:08x})", call.arg(0).addr().unwrap_or(0))
    };
    call.ret1(ctx.str_value(text.as_bytes()))
}

fn flush<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let handle = check_file(ctx, call)?;
    let result = cell_mut(&handle).flush(ctx);
    file_result(ctx, call, result, None)
}

fn io_flush<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (_, handle) = default_file(ctx, OUTPUT)?;
    let result = cell_mut(&handle).flush(ctx);
    file_result(ctx, call, result, None)
}

fn seek<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let handle = check_file(ctx, call)?;
    let whence = match call.check_option(ctx, 1, Some("cur"), &["set", "cur", "end"])? {
        0 => Whence::Set,
        1 => Whence::Cur,
        _ => Whence::End,
    };
    let offset = call.opt_integer(ctx, 2, 0)?;
    let result = cell_mut(&handle).seek(ctx, whence, offset);
    match result {
        Ok(at) => call.ret1(Value::from(i64::try_from(at).unwrap_or(i64::MAX))),
        Err(e) => fail(ctx, call, e, None),
    }
}

fn setvbuf<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let handle = check_file(ctx, call)?;
    let mode = match call.check_option(ctx, 1, None, &["no", "full", "line"])? {
        0 => Buffering::No,
        1 => Buffering::Full,
        _ => Buffering::Line,
    };
    let size = call.opt_integer(ctx, 2, DEFAULT_VBUF)?;
    let size = usize::try_from(size).unwrap_or(0);
    let result = cell_mut(&handle).set_buffering(ctx, mode, size);
    file_result(ctx, call, result, None)
}

/// Writes arguments `from..` (`g_write`): numbers as C's `%d`/`%.14g` print them.
fn write_args<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    handle: &Handle,
    from: usize,
) -> Result<HostResult<()>, Error<'gc>> {
    let mut status = Ok(());
    let mut number = Vec::new();
    for i in from..call.nargs() {
        let bytes: &[u8] = match call.arg(i) {
            Value::Integer(n) => {
                number.clear();
                write_int(&mut number, n);
                &number
            }
            Value::Float(f) => {
                number.clear();
                write_float_g(&mut number, f, 14, false);
                &number
            }
            _ => call.check_bytes(ctx, i)?,
        };
        if status.is_ok() {
            status = cell_mut(handle).write(ctx, bytes);
        }
    }
    Ok(status)
}

fn write<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let handle = check_file(ctx, call)?;
    match write_args(ctx, call, &handle, 1)? {
        Ok(()) => {
            let file = call.arg(0);
            call.ret1(file)
        }
        Err(e) => fail(ctx, call, e, None),
    }
}

fn io_write<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (file, handle) = default_file(ctx, OUTPUT)?;
    match write_args(ctx, call, &handle, 0)? {
        Ok(()) => call.ret1(file),
        Err(e) => fail(ctx, call, e, None),
    }
}

/// [`read_values`] as one step: `None` when standard input would block, having consumed
/// nothing, so that [`wait_for_input`] can read again from the start.
fn read_formats<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    handle: &Handle,
    from: usize,
) -> Result<Option<HostResult<Vec<Value<'gc>>>>, Error<'gc>> {
    cell_mut(handle).begin_read();
    let values = read_values(ctx, call, handle, from);
    let blocked = matches!(&values, Ok(Err(e)) if e.code == HostError::WOULD_BLOCK);
    cell_mut(handle).end_read(blocked);
    Ok(if blocked { None } else { Some(values?) })
}

/// The readers that wait for input: `read`, `io.read`, a `lines` iterator.
const READERS: [NativeFn; 3] = [read, io_read, next_line];

/// Waits for the host to have input (yielding the integer 0), then calls `READERS[which]`
/// again with the same arguments. The state is never 0 (`read` has its file argument), which
/// is how a debug hook's wrapper tells this continuation from [`Cont::resumed_values`].
fn wait_for_input<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, which: usize) -> R<'gc> {
    let at = call.nargs();
    call.push(Value::Integer(0));
    ctx.request_host();
    let mut then = Cont::yieldable(read_again, Catch::No);
    then.state = (at * READERS.len() + which) as i64;
    Ok(Action::Yield { at, then })
}

fn read_again<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, outcome: Outcome<'gc>) -> R<'gc> {
    if let Outcome::Raised(e) = outcome {
        return Err(Error::Value(e));
    }
    let state = call.state() as usize;
    call.set_nargs(state / READERS.len());
    READERS[state % READERS.len()](ctx, call)
}

/// Reads with the formats in arguments `from..` (`g_read`): the values read, ending with
/// `nil` at the first format that fails; a host error replaces them all.
fn read_values<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    handle: &Handle,
    from: usize,
) -> Result<HostResult<Vec<Value<'gc>>>, Error<'gc>> {
    let bytes = |b: Option<Vec<u8>>| b.map_or(Value::Nil, |b| ctx.str_value(&b));
    let mut values = Vec::new();
    if call.nargs() <= from {
        let line = cell_mut(handle).read_line(ctx, false);
        return Ok(line.map(|l| alloc::vec![bytes(l)]));
    }
    for i in from..call.nargs() {
        let value = match call.arg(i) {
            Value::Integer(_) | Value::Float(_) => {
                let n = call.check_integer(ctx, i)?;
                let mut stream = cell_mut(handle);
                if n == 0 {
                    stream
                        .has_more(ctx)
                        .map(|more| if more { ctx.str_value(b"") } else { Value::Nil })
                } else {
                    // A negative count is a huge one, as C's `size_t` sees it.
                    stream.read_bytes(ctx, n as u64).map(bytes)
                }
            }
            _ => {
                let format = call.check_bytes(ctx, i)?;
                let format = format.strip_prefix(b"*").unwrap_or(format);
                let mut stream = cell_mut(handle);
                match format.first() {
                    Some(b'n') => stream.read_number(ctx).map(|n| match n {
                        Some(Number::Int(i)) => Value::Integer(i),
                        Some(Number::Float(f)) => Value::Float(f),
                        None => Value::Nil,
                    }),
                    Some(b'l') => stream.read_line(ctx, false).map(bytes),
                    Some(b'L') => stream.read_line(ctx, true).map(bytes),
                    Some(b'a') => stream.read_all(ctx).map(|b| ctx.str_value(&b)),
                    _ => return Err(Error::bad_arg(i + 1, "invalid format")),
                }
            }
        };
        match value {
            Ok(v) => {
                values.push(v);
                if v.is_nil() {
                    break;
                }
            }
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(values))
}

fn read<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let handle = check_file(ctx, call)?;
    match read_formats(ctx, call, &handle, 1)? {
        Some(Ok(values)) => call.ret(&values),
        Some(Err(e)) => fail(ctx, call, e, None),
        None => wait_for_input(ctx, call, 0),
    }
}

fn io_read<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (_, handle) = default_file(ctx, INPUT)?;
    match read_formats(ctx, call, &handle, 0)? {
        Some(Ok(values)) => call.ret(&values),
        Some(Err(e)) => fail(ctx, call, e, None),
        None => wait_for_input(ctx, call, 1),
    }
}

/// The iterator of `lines` over the file in argument 1 with the formats after it.
fn line_iterator<'gc>(
    ctx: Ctx<'gc>,
    call: &NativeCall<'_, 'gc>,
    close_at_end: bool,
) -> Result<Value<'gc>, Error<'gc>> {
    let formats = call.nargs().saturating_sub(1);
    if formats > MAX_LINE_FORMATS {
        return Err(Error::bad_arg(MAX_LINE_FORMATS + 2, "too many arguments"));
    }
    let mut upvals = Vec::with_capacity(3 + formats);
    upvals.push(call.arg(0));
    upvals.push(Value::Integer(formats as i64));
    upvals.push(Value::Boolean(close_at_end));
    upvals.extend_from_slice(at(call.args(), 1..));
    let f = NativeClosure::with_upvals(ctx.mc, "lines", next_line, upvals.into_boxed_slice());
    Ok(Value::from(f))
}

fn lines<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    check_file(ctx, call)?;
    let iterator = line_iterator(ctx, call, false)?;
    call.ret1(iterator)
}

fn io_lines<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    if call.nargs() == 0 {
        call.push(Value::Nil);
    }
    if call.arg(0).is_nil() {
        let input = ctx.registry().get_str(ctx.intern(INPUT));
        call.set_arg(0, input);
        check_file(ctx, call)?;
        let iterator = line_iterator(ctx, call, false)?;
        return call.ret1(iterator);
    }
    let name = call.check_bytes(ctx, 0)?;
    let file = open_or_raise(ctx, name, OpenMode::Read)?;
    call.set_arg(0, file);
    let iterator = line_iterator(ctx, call, true)?;
    // The file is also the loop's to-be-closed value, so leaving the loop closes it.
    call.ret(&[iterator, Value::Nil, Value::Nil, file])
}

/// One step of a `lines` loop: the formats' values, or nothing at the end of the file
/// (closing it when `io.lines` opened it).
fn next_line<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let file = call.upval(0);
    let Some(handle) = handle_of(file) else {
        bug() // a lines iterator keeps its file
    };
    if cell_ref(&handle).is_closed() {
        return Err(Error::runtime("file is already closed"));
    }
    let formats = match call.upval(1) {
        Value::Integer(n) => n as usize,
        _ => 0,
    };
    call.set_nargs(1);
    for i in 0..formats {
        let format = call.upval(3 + i);
        call.push(format);
    }
    let values = match read_formats(ctx, call, &handle, 1)? {
        Some(Ok(values)) => values,
        Some(Err(e)) => return Err(Error::runtime(e.message)),
        None => return wait_for_input(ctx, call, 2),
    };
    if values.first().is_some_and(|v| v.is_truthy()) {
        return call.ret(&values);
    }
    if call.upval(2).is_truthy() {
        let _ = cell_mut(&handle).close(ctx);
    }
    call.ret0()
}
