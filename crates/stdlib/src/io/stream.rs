//! A Lua file's stream: what C's `FILE` does for lua5.4, over a [`HostFile`] or one of the
//! host's standard streams. Reads are buffered so that formats can look one byte ahead;
//! writes are buffered as `setvbuf` says, so that a script sees C's buffering (a fully
//! buffered file shows nothing to a second reader until it is flushed).

use alloc::boxed::Box;
use alloc::vec::Vec;

use vm::host::{HostError, HostFile, HostResult, ProcessEnd, Whence};
use vm::lib::{at, at_mut};
use vm::number::{parse_number, Number};
use vm::state::Ctx;

/// How much a read asks the host for at once.
const READ_CHUNK: usize = 4096;
/// The buffer of a fully buffered file until `setvbuf` says otherwise.
const DEFAULT_BUFFER: usize = 4096;
/// Longest numeral `read("n")` accepts (lua5.4's `L_MAXLENNUM`).
const MAX_NUMERAL: usize = 200;
/// `ENOMEM`: what a read too long for a Lua string reports.
const NO_MEMORY: i32 = 12;

/// Where the bytes go to and come from.
enum Device {
    Stdin,
    Stdout,
    Stderr,
    File(Box<dyn HostFile>),
    /// A command's pipe (`io.popen`): closing it reports how the command ended.
    Pipe(Box<dyn HostFile>),
    Closed,
}

/// `setvbuf`'s modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffering {
    No,
    Full,
    Line,
}

/// How closing a stream went.
pub enum Closed {
    /// A file closed (or failed to).
    File(HostResult<()>),
    /// A pipe closed; its command ended so.
    Pipe(HostResult<ProcessEnd>),
    /// Standard streams stay open.
    Standard,
}

/// An open (or closed) Lua file.
pub struct Stream {
    device: Device,
    readable: bool,
    writable: bool,
    /// Bytes read from the device and not yet consumed: `input[input_pos..]`.
    input: Vec<u8>,
    input_pos: usize,
    /// Bytes written and not yet sent to the device.
    output: Vec<u8>,
    buffering: Buffering,
    capacity: usize,
    /// Standard input during an `io` read: where it started, kept in `input` so that a read
    /// that would block can start again ([`HostError::WOULD_BLOCK`]).
    mark: Option<usize>,
}

impl Stream {
    fn new(device: Device, readable: bool, writable: bool) -> Stream {
        Stream {
            device,
            readable,
            writable,
            input: Vec::new(),
            input_pos: 0,
            output: Vec::new(),
            buffering: Buffering::Full,
            capacity: DEFAULT_BUFFER,
            mark: None,
        }
    }

    pub fn stdin() -> Stream {
        Stream::new(Device::Stdin, true, false)
    }

    pub fn stdout() -> Stream {
        Stream::new(Device::Stdout, false, true)
    }

    pub fn stderr() -> Stream {
        let mut s = Stream::new(Device::Stderr, false, true);
        s.buffering = Buffering::No;
        s
    }

    pub fn file(file: Box<dyn HostFile>, readable: bool, writable: bool) -> Stream {
        Stream::new(Device::File(file), readable, writable)
    }

    pub fn pipe(file: Box<dyn HostFile>, readable: bool) -> Stream {
        Stream::new(Device::Pipe(file), readable, !readable)
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.device, Device::Closed)
    }

    pub fn is_standard(&self) -> bool {
        matches!(self.device, Device::Stdin | Device::Stdout | Device::Stderr)
    }

    fn unread(&self) -> &[u8] {
        at(&self.input, self.input_pos..)
    }

    /// Reads more from the device when everything read was consumed; false at the end.
    fn fill(&mut self, ctx: Ctx<'_>) -> HostResult<bool> {
        if self.input_pos < self.input.len() {
            return Ok(true);
        }
        if !self.readable {
            return Err(HostError::bad_descriptor());
        }
        self.flush(ctx)?;
        // What was consumed goes, except what a marked read may have to read again.
        let keep = self.mark.unwrap_or(self.input.len());
        self.input.drain(..keep);
        self.input_pos -= keep;
        if self.mark.is_some() {
            self.mark = Some(0);
        }
        let start = self.input.len();
        self.input.resize(start + READ_CHUNK, 0);
        let buf = at_mut(&mut self.input, start..);
        let n = match &mut self.device {
            Device::Stdin => ctx.with_host(|h| h.read_stdin(buf)),
            Device::File(f) | Device::Pipe(f) => f.read(buf),
            _ => Err(HostError::bad_descriptor()),
        };
        let got = n.as_ref().map_or(0, |&n| n.min(READ_CHUNK));
        self.input.truncate(start + got);
        n.map(|n| n > 0)
    }

    /// An `io` read begins: standard input keeps what it reads until [`Stream::end_read`].
    pub fn begin_read(&mut self) {
        if matches!(self.device, Device::Stdin) {
            self.mark = Some(self.input_pos);
        }
    }

    /// An `io` read ends; one that would block is undone, to be read again.
    pub fn end_read(&mut self, blocked: bool) {
        if let Some(at) = self.mark.take() {
            if blocked {
                self.input_pos = at;
            }
        }
    }

    fn peek(&mut self, ctx: Ctx<'_>) -> HostResult<Option<u8>> {
        Ok(if self.fill(ctx)? {
            Some(*at(&self.input, self.input_pos))
        } else {
            None
        })
    }

    /// Whether anything is left to read (`read(0)`).
    pub fn has_more(&mut self, ctx: Ctx<'_>) -> HostResult<bool> {
        self.fill(ctx)
    }

    /// A line (`read("l")` without its newline, `read("L")` with it); `None` at the end of
    /// the file.
    pub fn read_line(&mut self, ctx: Ctx<'_>, keep_newline: bool) -> HostResult<Option<Vec<u8>>> {
        let mut line = Vec::new();
        while self.fill(ctx)? {
            let rest = self.unread();
            let (take, newline) = match rest.iter().position(|&c| c == b'\n') {
                Some(i) => (i + 1, true),
                None => (rest.len(), false),
            };
            append(ctx, &mut line, &rest[..take])?;
            self.input_pos += take;
            if newline {
                if !keep_newline {
                    line.pop();
                }
                return Ok(Some(line));
            }
        }
        Ok((!line.is_empty()).then_some(line))
    }

    /// Up to `n` bytes; `None` at the end of the file.
    pub fn read_bytes(&mut self, ctx: Ctx<'_>, n: u64) -> HostResult<Option<Vec<u8>>> {
        let mut out = Vec::new();
        let mut left = n;
        while left > 0 && self.fill(ctx)? {
            let rest = self.unread();
            let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            append(ctx, &mut out, &rest[..take])?;
            self.input_pos += take;
            left -= take as u64;
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// The rest of the file (`read("a")`).
    pub fn read_all(&mut self, ctx: Ctx<'_>) -> HostResult<Vec<u8>> {
        let mut out = Vec::new();
        while self.fill(ctx)? {
            append(ctx, &mut out, self.unread())?;
            self.input_pos = self.input.len();
        }
        Ok(out)
    }

    /// A numeral (`read("n")`), scanned as lua5.4 scans it: at most one byte of look-ahead,
    /// so a bad numeral is consumed up to where it went wrong and fails.
    pub fn read_number(&mut self, ctx: Ctx<'_>) -> HostResult<Option<Number>> {
        while matches!(self.peek(ctx)?, Some(c) if is_space(c)) {
            self.input_pos += 1;
        }
        let mut numeral = Scanner {
            text: Vec::new(),
            overflow: false,
        };
        numeral.accept(self, ctx, b"-+")?;
        let mut digits = 0;
        let mut hex = false;
        if numeral.accept(self, ctx, b"0")? {
            if numeral.accept(self, ctx, b"xX")? {
                hex = true;
            } else {
                digits = 1;
            }
        }
        digits += numeral.digits(self, ctx, hex)?;
        if numeral.accept(self, ctx, b".")? {
            digits += numeral.digits(self, ctx, hex)?;
        }
        if digits > 0 && numeral.accept(self, ctx, if hex { b"pP" } else { b"eE" })? {
            numeral.accept(self, ctx, b"-+")?;
            numeral.digits(self, ctx, false)?;
        }
        if numeral.overflow {
            return Ok(None);
        }
        Ok(parse_number(&numeral.text))
    }

    /// Writes `bytes` as the buffering mode says.
    pub fn write(&mut self, ctx: Ctx<'_>, bytes: &[u8]) -> HostResult<()> {
        if !self.writable {
            return Err(HostError::bad_descriptor());
        }
        if !self.unread().is_empty() {
            // Write where the reader is, not where the read-ahead stopped.
            let back = -(self.unread().len() as i64);
            self.input.clear();
            self.input_pos = 0;
            if let Device::File(f) = &mut self.device {
                f.seek(Whence::Cur, back)?;
            }
        }
        match self.device {
            Device::Stdout => {
                ctx.with_host(|h| {
                    h.write(bytes);
                    let flush = match self.buffering {
                        Buffering::No => true,
                        Buffering::Line => bytes.contains(&b'\n'),
                        Buffering::Full => false,
                    };
                    if flush {
                        h.flush();
                    }
                });
                Ok(())
            }
            Device::Stderr => {
                ctx.with_host(|h| h.write_err(bytes));
                Ok(())
            }
            _ => {
                self.output.extend_from_slice(bytes);
                match self.buffering {
                    Buffering::No => self.flush(ctx),
                    Buffering::Full if self.output.len() >= self.capacity => self.flush(ctx),
                    Buffering::Full => Ok(()),
                    // Complete lines go; the start of the next one waits, as in C.
                    Buffering::Line => match self.output.iter().rposition(|&c| c == b'\n') {
                        Some(end) => self.send_output(end + 1),
                        None => Ok(()),
                    },
                }
            }
        }
    }

    /// Sends buffered output to the device.
    pub fn flush(&mut self, ctx: Ctx<'_>) -> HostResult<()> {
        if let Device::Stdout = self.device {
            ctx.with_host(|h| h.flush());
            return Ok(());
        }
        self.send_output(self.output.len())
    }

    /// Sends the first `n` buffered bytes to a file or pipe.
    fn send_output(&mut self, n: usize) -> HostResult<()> {
        if n == 0 {
            return Ok(());
        }
        if let Device::File(f) | Device::Pipe(f) = &mut self.device {
            let pending: Vec<u8> = self.output.drain(..n).collect();
            f.write(&pending)?;
        }
        Ok(())
    }

    /// Moves to `offset` from `whence`; the new position.
    pub fn seek(&mut self, ctx: Ctx<'_>, whence: Whence, offset: i64) -> HostResult<u64> {
        self.flush(ctx)?;
        let offset = if whence == Whence::Cur {
            offset.wrapping_sub(self.unread().len() as i64)
        } else {
            offset
        };
        let Device::File(f) = &mut self.device else {
            return Err(HostError::illegal_seek());
        };
        let at = f.seek(whence, offset)?;
        self.input.clear();
        self.input_pos = 0;
        Ok(at)
    }

    pub fn set_buffering(&mut self, ctx: Ctx<'_>, mode: Buffering, size: usize) -> HostResult<()> {
        self.flush(ctx)?;
        self.buffering = mode;
        self.capacity = size;
        Ok(())
    }

    /// Flushes and closes the device; standard streams stay open.
    pub fn close(&mut self, ctx: Ctx<'_>) -> Closed {
        if self.is_standard() {
            return Closed::Standard;
        }
        let flushed = self.flush(ctx);
        self.input = Vec::new();
        self.input_pos = 0;
        self.output = Vec::new();
        match core::mem::replace(&mut self.device, Device::Closed) {
            Device::File(f) => Closed::File(flushed.and(f.close().map(|_| ()))),
            Device::Pipe(f) => {
                let ended = f.close().map(|end| end.unwrap_or(ProcessEnd::Exit(0)));
                Closed::Pipe(flushed.and(ended))
            }
            _ => Closed::File(Ok(())),
        }
    }
}

impl Drop for Stream {
    /// A state dropped without closing its files (`os.exit` without `close`) still writes
    /// what they hold, as C's `exit` flushes open streams.
    fn drop(&mut self) {
        let _ = self.send_output(self.output.len());
    }
}

/// Appends a read's bytes, failing as C does when memory runs out rather than aborting.
fn append(ctx: Ctx<'_>, out: &mut Vec<u8>, bytes: &[u8]) -> HostResult<()> {
    let total = out.len().saturating_add(bytes.len());
    if total > ctx.max_string_len() || out.try_reserve(bytes.len()).is_err() {
        return Err(HostError::new("Cannot allocate memory", NO_MEMORY));
    }
    out.extend_from_slice(bytes);
    Ok(())
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The numeral `read("n")` collects.
struct Scanner {
    text: Vec<u8>,
    overflow: bool,
}

impl Scanner {
    /// Takes the next byte if it is one of `set`.
    fn accept(&mut self, s: &mut Stream, ctx: Ctx<'_>, set: &[u8]) -> HostResult<bool> {
        match s.peek(ctx)? {
            Some(c) if set.contains(&c) => Ok(self.take(s, c)),
            _ => Ok(false),
        }
    }

    fn digits(&mut self, s: &mut Stream, ctx: Ctx<'_>, hex: bool) -> HostResult<usize> {
        let mut count = 0;
        while let Some(c) = s.peek(ctx)? {
            let digit = if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            };
            if !digit || !self.take(s, c) {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    /// Consumes `c` into the numeral; a numeral too long fails as a whole.
    fn take(&mut self, s: &mut Stream, c: u8) -> bool {
        if self.text.len() >= MAX_NUMERAL {
            self.overflow = true;
            return false;
        }
        self.text.push(c);
        s.input_pos += 1;
        true
    }
}
