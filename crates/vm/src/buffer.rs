//! Strings built by native functions: room made within the state's limits, copying charged
//! to fuel.

use alloc::vec::Vec;

use crate::interp::Error;
use crate::state::Ctx;

/// Makes room in `buf` for `total` bytes, to become a string of that length. Past the
/// longest string the state allows, or when the buffer and the string made from it would
/// pass the memory limit, or when the allocator refuses, it is lua5.4's memory error
/// rather than an abort. Copying is charged to fuel by its length.
pub fn reserve<'gc>(ctx: Ctx<'gc>, buf: &mut Vec<u8>, total: usize) -> Result<(), Error<'gc>> {
    let more = total.saturating_sub(buf.len());
    if total > ctx.max_string_len()
        || ctx.check_alloc(total.saturating_mul(2)).is_err()
        || buf.try_reserve_exact(more).is_err()
    {
        return Err(ctx.memory_error());
    }
    charge_bytes(ctx, more);
    Ok(())
}

/// Appends to a string being built (see [`grow`]); the caller charges the copying.
#[inline]
pub fn append<'gc>(ctx: Ctx<'gc>, buf: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Error<'gc>> {
    grow(ctx, buf, bytes.len())?;
    buf.extend_from_slice(bytes);
    Ok(())
}

/// Makes room for `n` more bytes in a string being built, within the longest string the
/// state allows and the memory limit (counting the buffer and the string it becomes).
#[inline]
pub fn grow<'gc>(ctx: Ctx<'gc>, buf: &mut Vec<u8>, n: usize) -> Result<(), Error<'gc>> {
    if buf.capacity() - buf.len() < n {
        return grow_buffer(ctx, buf, n);
    }
    Ok(())
}

/// The buffer doubles, but never past the longest string, so its capacity bounds it.
#[cold]
fn grow_buffer<'gc>(ctx: Ctx<'gc>, buf: &mut Vec<u8>, n: usize) -> Result<(), Error<'gc>> {
    let total = buf.len().saturating_add(n);
    let max = ctx.max_string_len();
    let grown = buf.capacity().saturating_mul(2).min(max).max(total);
    if total > max
        || ctx.check_alloc(grown.saturating_add(total)).is_err()
        || buf.try_reserve_exact(grown - buf.len()).is_err()
    {
        return Err(ctx.memory_error());
    }
    Ok(())
}

/// Bytes copied for one instruction's worth of fuel.
const BYTES_PER_FUEL: usize = 64;

/// Charges the copying of `n` bytes to fuel, so that long copies count against the limit.
#[inline]
pub fn charge_bytes(ctx: Ctx<'_>, n: usize) {
    ctx.charge_fuel((n / BYTES_PER_FUEL) as i64);
}
