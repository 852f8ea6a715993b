//! Lua values: sixteen bytes, `Copy`, traced by gc-arena.

use gc_arena::{Collect, Gc};

use crate::function::{LuaClosure, NativeClosure};
use crate::string::LuaStr;
use crate::table::Table;
use crate::thread::Thread;
use crate::userdata::UserData;

/// A Lua value.
///
/// In the wasm module its tag is a whole word: with a one-byte tag, copies of a Value moved
/// 8-byte words from odd offsets over what had just been written, and stalled (store
/// forwarding). Natively that tag would make a Value 24 bytes instead of 16.
#[derive(Clone, Copy, Collect, Default)]
#[collect(no_drop)]
#[cfg_attr(target_arch = "wasm32", repr(u32))]
pub enum Value<'gc> {
    #[default]
    Nil,
    Boolean(bool),
    Integer(i64),
    Float(f64),
    String(LuaStr<'gc>),
    Table(Table<'gc>),
    Function(Function<'gc>),
    Thread(Thread<'gc>),
    UserData(UserData<'gc>),
    /// A bare address (`debug.upvalueid`): a userdata compared by value, with no metatable
    /// of its own.
    LightUserData(usize),
}

/// A callable value: a Lua closure or a native function.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub enum Function<'gc> {
    Lua(LuaClosure<'gc>),
    Native(NativeClosure<'gc>),
}

impl<'gc> Function<'gc> {
    /// Identity, as `==` and table keys see it.
    pub fn ptr_eq(self, other: Function<'gc>) -> bool {
        match (self, other) {
            (Function::Lua(a), Function::Lua(b)) => Gc::ptr_eq(a.0, b.0),
            (Function::Native(a), Function::Native(b)) => Gc::ptr_eq(a.0, b.0),
            _ => false,
        }
    }

    pub fn addr(self) -> usize {
        match self {
            Function::Lua(c) => Gc::as_ptr(c.0) as *const () as usize,
            Function::Native(c) => Gc::as_ptr(c.0) as *const () as usize,
        }
    }
}

/// The eight basic types, as `type` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Nil,
    Boolean,
    Number,
    String,
    Table,
    Function,
    Thread,
    UserData,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::Nil => "nil",
            Type::Boolean => "boolean",
            Type::Number => "number",
            Type::String => "string",
            Type::Table => "table",
            Type::Function => "function",
            Type::Thread => "thread",
            Type::UserData => "userdata",
        }
    }
}

impl<'gc> Value<'gc> {
    #[inline]
    pub fn type_of(self) -> Type {
        match self {
            Value::Nil => Type::Nil,
            Value::Boolean(_) => Type::Boolean,
            Value::Integer(_) | Value::Float(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::Table(_) => Type::Table,
            Value::Function(_) => Type::Function,
            Value::Thread(_) => Type::Thread,
            Value::UserData(_) | Value::LightUserData(_) => Type::UserData,
        }
    }

    pub fn type_name(self) -> &'static str {
        self.type_of().name()
    }

    #[inline]
    pub fn is_nil(self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Everything but `nil` and `false` is true.
    #[inline]
    pub fn is_truthy(self) -> bool {
        !matches!(self, Value::Nil | Value::Boolean(false))
    }

    /// Primitive equality (`rawequal`): numbers by value across integer and float, strings by
    /// content, everything else by identity.
    #[inline]
    pub fn raw_eq(self, other: Value<'gc>) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Integer(i), Value::Float(f)) | (Value::Float(f), Value::Integer(i)) => {
                crate::number::int_eq_float(i, f)
            }
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Table(a), Value::Table(b)) => a == b,
            (Value::Function(a), Value::Function(b)) => a.ptr_eq(b),
            (Value::Thread(a), Value::Thread(b)) => a == b,
            (Value::UserData(a), Value::UserData(b)) => a == b,
            (Value::LightUserData(a), Value::LightUserData(b)) => a == b,
            _ => false,
        }
    }

    /// The value as a number, without string coercion.
    #[inline]
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The address of a collectable value, for `%p`, `tostring` and hashing.
    pub fn addr(self) -> Option<usize> {
        Some(match self {
            Value::String(s) => s.addr(),
            Value::Table(t) => t.addr(),
            Value::Function(f) => f.addr(),
            Value::Thread(t) => t.addr(),
            Value::UserData(u) => u.addr(),
            Value::LightUserData(p) => p,
            _ => return None,
        })
    }
}

impl<'gc> From<bool> for Value<'gc> {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl<'gc> From<i64> for Value<'gc> {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}

impl<'gc> From<f64> for Value<'gc> {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl<'gc> From<LuaStr<'gc>> for Value<'gc> {
    fn from(s: LuaStr<'gc>) -> Self {
        Value::String(s)
    }
}

impl<'gc> From<Table<'gc>> for Value<'gc> {
    fn from(t: Table<'gc>) -> Self {
        Value::Table(t)
    }
}

impl<'gc> From<Function<'gc>> for Value<'gc> {
    fn from(f: Function<'gc>) -> Self {
        Value::Function(f)
    }
}

impl<'gc> From<NativeClosure<'gc>> for Value<'gc> {
    fn from(f: NativeClosure<'gc>) -> Self {
        Value::Function(Function::Native(f))
    }
}

impl<'gc> From<LuaClosure<'gc>> for Value<'gc> {
    fn from(f: LuaClosure<'gc>) -> Self {
        Value::Function(Function::Lua(f))
    }
}

impl<'gc> From<Thread<'gc>> for Value<'gc> {
    fn from(t: Thread<'gc>) -> Self {
        Value::Thread(t)
    }
}

// Sixteen bytes, an optional one too, natively and in the module (its word-sized tag
// included): checked when compiling.
const _: () = assert!(
    core::mem::size_of::<Value<'static>>() == 16
        && core::mem::size_of::<Option<Value<'static>>>() == 16
);
