//! Writing a [`FunctionProto`] as a binary chunk (the format is in the module docs).

use alloc::vec::Vec;

use crate::proto::{Constant, FunctionProto};

use super::{ops, FORMAT_VERSION, MARKER, SIGNATURE, TEXT_CHECK};

pub(super) fn chunk(main: &FunctionProto, strip: bool) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(SIGNATURE);
    out.extend_from_slice(MARKER);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(TEXT_CHECK);
    proto(&mut out, main, None, strip);
    out
}

fn proto(out: &mut Vec<u8>, p: &FunctionProto, parent_source: Option<&[u8]>, strip: bool) {
    if strip || parent_source == Some(&p.source[..]) {
        put_uv(out, 0);
    } else {
        put_uv(out, p.source.len() as u64 + 1);
        out.extend_from_slice(&p.source);
    }
    put_uv(out, u64::from(p.line_defined));
    put_uv(out, u64::from(p.last_line_defined));
    out.push(p.num_params);
    out.push(u8::from(p.is_vararg));
    out.push(p.max_stack);

    put_uv(out, p.code.len() as u64);
    for &op in &p.code {
        ops::write_op(out, op);
    }

    put_uv(out, p.constants.len() as u64);
    for k in &p.constants {
        constant(out, k);
    }

    put_uv(out, p.upvalues.len() as u64);
    for u in &p.upvalues {
        out.push(u8::from(u.in_stack));
        out.push(u.index);
    }

    put_uv(out, p.protos.len() as u64);
    for child in &p.protos {
        proto(out, child, Some(&p.source), strip);
    }

    let lines: &[u32] = if strip { &[] } else { &p.lines };
    put_uv(out, lines.len() as u64);
    let mut previous = i64::from(p.line_defined);
    for &line in lines {
        put_sv(out, i64::from(line) - previous);
        previous = i64::from(line);
    }

    let locals = if strip { &[][..] } else { &p.locals[..] };
    put_uv(out, locals.len() as u64);
    for l in locals {
        bytes(out, &l.name);
        out.push(l.reg);
        put_uv(out, u64::from(l.start_pc));
        put_uv(out, u64::from(l.end_pc.wrapping_sub(l.start_pc)));
    }

    let named = !strip && p.upvalues.iter().any(|u| !u.name.is_empty());
    if named {
        put_uv(out, p.upvalues.len() as u64);
        for u in &p.upvalues {
            bytes(out, &u.name);
        }
    } else {
        put_uv(out, 0);
    }
}

fn constant(out: &mut Vec<u8>, k: &Constant) {
    match k {
        Constant::Nil => out.push(0),
        Constant::Boolean(false) => out.push(1),
        Constant::Boolean(true) => out.push(2),
        Constant::Integer(i) => {
            out.push(3);
            put_sv(out, *i);
        }
        Constant::Float(f) => {
            out.push(4);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Constant::String(s) => {
            out.push(5);
            bytes(out, s);
        }
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uv(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// An unsigned LEB128 varint.
pub(super) fn put_uv(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A zigzag-encoded signed varint (small magnitudes of either sign stay short).
pub(super) fn put_sv(out: &mut Vec<u8>, v: i64) {
    put_uv(out, ((v << 1) ^ (v >> 63)) as u64);
}
