//! Functions: prototypes loaded into the arena, Lua closures with their upvalues, and native
//! functions.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use gc_arena::lock::{Lock, RefLock};
use gc_arena::{Collect, Gc, Mutation};

use crate::interp::NativeFn;
use crate::proto::{Constant, FunctionProto};
use crate::state::Ctx;
use crate::string::LuaStr;
use crate::thread::Thread;
use crate::value::Value;

/// A prototype in the arena: the plain prototype plus its constants as values (strings
/// interned) and its nested prototypes.
#[derive(Collect)]
#[collect(no_drop)]
pub struct Proto<'gc> {
    /// Code, lines and debug info; `plain.protos` is empty (moved into `protos`).
    #[collect(require_static)]
    pub plain: FunctionProto,
    pub constants: Box<[Value<'gc>]>,
    pub protos: Box<[Gc<'gc, Proto<'gc>>]>,
}

impl<'gc> Proto<'gc> {
    /// Loads a plain prototype (and its nested ones) into the arena.
    pub fn load(ctx: Ctx<'gc>, plain: FunctionProto) -> Gc<'gc, Proto<'gc>> {
        Self::load_sharing(ctx, plain, &mut LongStrings::default())
    }

    /// Loads a prototype; equal long string constants of one chunk become one string, as
    /// one compilation makes them in lua5.4 (short ones are interned anyway).
    fn load_sharing(
        ctx: Ctx<'gc>,
        mut plain: FunctionProto,
        long_strings: &mut LongStrings<'gc>,
    ) -> Gc<'gc, Proto<'gc>> {
        let nested = core::mem::take(&mut plain.protos);
        let protos: Vec<_> = nested
            .into_iter()
            .map(|p| Proto::load_sharing(ctx, p, long_strings))
            .collect();
        let constants: Vec<Value<'gc>> = plain
            .constants
            .iter()
            .map(|c| match c {
                Constant::Nil => Value::Nil,
                Constant::Boolean(b) => Value::Boolean(*b),
                Constant::Integer(i) => Value::Integer(*i),
                Constant::Float(f) => Value::Float(*f),
                Constant::String(s) if s.len() > crate::string::MAX_SHORT_LEN => {
                    Value::String(long_strings.get(ctx, s))
                }
                Constant::String(s) => Value::String(ctx.intern(s)),
            })
            .collect();
        Gc::new(
            ctx.mc,
            Proto {
                plain,
                constants: constants.into_boxed_slice(),
                protos: protos.into_boxed_slice(),
            },
        )
    }

    /// The plain prototype with its nested prototypes, as binary chunks carry it.
    pub fn to_plain(&self) -> FunctionProto {
        let mut plain = self.plain.clone();
        plain.protos = self.protos.iter().map(|p| p.to_plain()).collect();
        plain
    }
}

/// The long strings of one chunk, each made once.
#[derive(Default)]
struct LongStrings<'gc> {
    /// Positions in `strings`: the compiler's maps have this key and value type, and one
    /// type of map costs the module less than two.
    positions: BTreeMap<Box<[u8]>, u32>,
    strings: Vec<LuaStr<'gc>>,
}

impl<'gc> LongStrings<'gc> {
    fn get(&mut self, ctx: Ctx<'gc>, bytes: &[u8]) -> LuaStr<'gc> {
        if let Some(&i) = self.positions.get(bytes) {
            return self.strings[i as usize];
        }
        let s = ctx.intern(bytes);
        self.positions
            .insert(bytes.into(), self.strings.len() as u32);
        self.strings.push(s);
        s
    }
}

/// Where an upvalue's variable lives: still in a register of a running function, or moved
/// into the upvalue when that function returned.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub enum UpvalState<'gc> {
    Open { thread: Thread<'gc>, index: usize },
    Closed(Value<'gc>),
}

/// A variable shared between closures.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct Upval<'gc>(pub(crate) Gc<'gc, Lock<UpvalState<'gc>>>);

impl<'gc> Upval<'gc> {
    pub fn new_closed(mc: &Mutation<'gc>, value: Value<'gc>) -> Self {
        Upval(Gc::new(mc, Lock::new(UpvalState::Closed(value))))
    }

    /// Closes the upvalue with `value` (an embedder restoring stored closures).
    pub fn close_with(self, mc: &Mutation<'gc>, value: Value<'gc>) {
        self.0.set(mc, UpvalState::Closed(value));
    }

    /// Where its variable is now.
    pub fn state(self) -> UpvalState<'gc> {
        self.0.get()
    }

    /// Identity, stable while the upvalue lives.
    pub fn addr(self) -> usize {
        Gc::as_ptr(self.0) as *const () as usize
    }

    pub fn ptr_eq(self, other: Upval<'gc>) -> bool {
        Gc::ptr_eq(self.0, other.0)
    }
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct LuaClosureData<'gc> {
    pub proto: Gc<'gc, Proto<'gc>>,
    /// Behind a lock only for `debug.upvaluejoin`; the interpreter borrows it per frame.
    pub upvals: RefLock<Box<[Upval<'gc>]>>,
}

/// A Lua function: a prototype and its upvalues.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct LuaClosure<'gc>(pub(crate) Gc<'gc, LuaClosureData<'gc>>);

impl<'gc> LuaClosure<'gc> {
    pub fn new(mc: &Mutation<'gc>, proto: Gc<'gc, Proto<'gc>>, upvals: Box<[Upval<'gc>]>) -> Self {
        LuaClosure(Gc::new(
            mc,
            LuaClosureData {
                proto,
                upvals: RefLock::new(upvals),
            },
        ))
    }

    pub fn proto(self) -> Gc<'gc, Proto<'gc>> {
        self.0.proto
    }

    pub fn upvals(self) -> core::cell::Ref<'gc, Box<[Upval<'gc>]>> {
        Gc::as_ref(self.0).upvals.borrow()
    }

    /// Makes upvalue `i` the given one (`debug.upvaluejoin`); fails while the closure runs.
    pub fn set_upval(self, mc: &Mutation<'gc>, i: usize, u: Upval<'gc>) -> bool {
        let upvals = gc_arena::barrier::unlock!(Gc::write(mc, self.0), LuaClosureData, upvals);
        match upvals.try_borrow_mut() {
            Ok(mut ups) => match ups.get_mut(i) {
                Some(slot) => {
                    *slot = u;
                    true
                }
                None => false,
            },
            Err(_) => false,
        }
    }
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct NativeData<'gc> {
    #[collect(require_static)]
    pub f: NativeFn,
    /// The name the library registers it under, for messages (`"insert"`).
    #[collect(require_static)]
    pub name: &'static str,
    /// State a native keeps between calls (`gmatch` positions, `wrap`'s coroutine).
    pub upvals: RefLock<Box<[Value<'gc>]>>,
}

/// A function written in Rust.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct NativeClosure<'gc>(pub(crate) Gc<'gc, NativeData<'gc>>);

impl<'gc> NativeClosure<'gc> {
    pub fn new(mc: &Mutation<'gc>, name: &'static str, f: NativeFn) -> Self {
        Self::with_upvals(mc, name, f, Box::new([]))
    }

    pub fn with_upvals(
        mc: &Mutation<'gc>,
        name: &'static str,
        f: NativeFn,
        upvals: Box<[Value<'gc>]>,
    ) -> Self {
        NativeClosure(Gc::new(
            mc,
            NativeData {
                f,
                name,
                upvals: RefLock::new(upvals),
            },
        ))
    }

    pub fn name(self) -> &'static str {
        Gc::as_ref(self.0).name
    }

    /// How many upvalues it has.
    pub fn upval_count(self) -> usize {
        self.0.upvals.borrow().len()
    }

    pub fn upval(self, i: usize) -> Value<'gc> {
        self.0.upvals.borrow().get(i).copied().unwrap_or_default()
    }

    pub fn set_upval(self, mc: &Mutation<'gc>, i: usize, v: Value<'gc>) {
        let upvals = gc_arena::barrier::unlock!(Gc::write(mc, self.0), NativeData, upvals);
        if let Some(slot) = upvals.borrow_mut().get_mut(i) {
            *slot = v;
        }
    }

    pub fn is(self, f: NativeFn) -> bool {
        core::ptr::fn_addr_eq(self.0.f, f)
    }
}
