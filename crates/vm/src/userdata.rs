//! Userdata: host objects with a metatable, opaque to Lua.

use alloc::boxed::Box;
use core::any::Any;

use gc_arena::lock::RefLock;
use gc_arena::{Collect, Gc, Mutation};

use crate::checked::{borrow, borrow_mut};
use crate::table::Table;

#[derive(Collect)]
#[collect(no_drop)]
pub struct UserDataState<'gc> {
    meta: Option<Table<'gc>>,
    #[collect(require_static)]
    data: Box<dyn Any>,
}

/// A userdata value.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct UserData<'gc>(pub(crate) Gc<'gc, RefLock<UserDataState<'gc>>>);

impl<'gc> PartialEq for UserData<'gc> {
    fn eq(&self, other: &Self) -> bool {
        Gc::ptr_eq(self.0, other.0)
    }
}

impl<'gc> Eq for UserData<'gc> {}

impl<'gc> UserData<'gc> {
    pub fn new(mc: &Mutation<'gc>, data: Box<dyn Any>) -> Self {
        UserData(Gc::new(
            mc,
            RefLock::new(UserDataState { meta: None, data }),
        ))
    }

    pub fn metatable(self) -> Option<Table<'gc>> {
        borrow(self.0).meta
    }

    pub fn set_metatable(self, mc: &Mutation<'gc>, meta: Option<Table<'gc>>) {
        borrow_mut(self.0, mc).meta = meta;
    }

    /// The host data, if it is a `T`.
    pub fn with_data<T: 'static, R>(self, f: impl FnOnce(&T) -> R) -> Option<R> {
        borrow(self.0).data.downcast_ref::<T>().map(f)
    }

    pub(crate) fn addr(self) -> usize {
        Gc::as_ptr(self.0) as *const () as usize
    }
}
