//! `string.dump`, kept apart from the rest of the string library: it belongs with the
//! binary chunks of [`vm::dump`].

use vm::lib::{Action, Error, NativeCall};
use vm::state::Ctx;
use vm::value::{Function, Value};

use super::{set_fns, set_global_lib};

/// Adds `dump` to the `string` table, creating the table if the string library has not.
pub fn open(ctx: Ctx<'_>) {
    let name = ctx.intern(b"string");
    let string = match ctx.globals().get_str(name) {
        Value::Table(t) => t,
        _ => {
            let t = ctx.new_table();
            set_global_lib(ctx, b"string", t);
            t
        }
    };
    set_fns(ctx, string, &[("dump", dump)]);
}

/// `string.dump(f [, strip])`: the binary chunk of a Lua function's prototype (its
/// upvalues' values are not part of it, as in lua5.4).
fn dump<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> Result<Action<'gc>, Error<'gc>> {
    let Function::Lua(closure) = call.check_function(ctx, 0)? else {
        return Err(Error::runtime("unable to dump given function"));
    };
    let strip = call.arg(1).is_truthy();
    let chunk = vm::dump::dump(&closure.proto().to_plain(), strip);
    call.ret1(ctx.str_value(&chunk))
}
