//! Indexing and borrowing whose failure is a bug in the VM or the library, each kind sharing
//! one cold panic.
//! A plain `s[i]` or `borrow()` panics with its caller's location: one location and one call
//! per site, which in hot inlined code made up a large part of the module's size.

use core::cell::{Ref, RefCell, RefMut};
use core::slice::SliceIndex;

use gc_arena::lock::RefLock;
use gc_arena::{Gc, Mutation};

/// `s[i]`.
#[inline(always)]
pub fn at<T, I: SliceIndex<[T]>>(s: &[T], i: I) -> &I::Output {
    match s.get(i) {
        Some(v) => v,
        None => out_of_bounds(),
    }
}

/// `&mut s[i]`.
#[inline(always)]
pub fn at_mut<T, I: SliceIndex<[T]>>(s: &mut [T], i: I) -> &mut I::Output {
    match s.get_mut(i) {
        Some(v) => v,
        None => out_of_bounds(),
    }
}

/// `lock.borrow()`.
#[inline(always)]
pub(crate) fn borrow<'gc, T>(lock: Gc<'gc, RefLock<T>>) -> Ref<'gc, T> {
    match lock.try_borrow() {
        Ok(r) => r,
        Err(_) => already_borrowed(),
    }
}

/// `lock.borrow_mut(mc)`.
#[inline(always)]
pub(crate) fn borrow_mut<'gc, T>(lock: Gc<'gc, RefLock<T>>, mc: &Mutation<'gc>) -> RefMut<'gc, T> {
    match lock.try_borrow_mut(mc) {
        Ok(r) => r,
        Err(_) => already_borrowed(),
    }
}

/// `cell.borrow_mut()`.
#[inline(always)]
pub fn cell_mut<T>(cell: &RefCell<T>) -> RefMut<'_, T> {
    match cell.try_borrow_mut() {
        Ok(r) => r,
        Err(_) => already_borrowed(),
    }
}

/// `cell.borrow()`.
#[inline(always)]
pub fn cell_ref<T>(cell: &RefCell<T>) -> Ref<'_, T> {
    match cell.try_borrow() {
        Ok(r) => r,
        Err(_) => already_borrowed(),
    }
}

/// `unreachable!()` without a location: a state the code never creates.
#[cold]
#[inline(never)]
pub fn bug() -> ! {
    panic!("lua-persist bug: unreachable state")
}

#[cold]
#[inline(never)]
fn out_of_bounds() -> ! {
    panic!("VM index out of bounds")
}

#[cold]
#[inline(never)]
fn already_borrowed() -> ! {
    panic!("VM value already borrowed")
}
