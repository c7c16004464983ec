//! Clocks, randomness, `sched_yield` and `proc_raise`.

use super::Args;
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;
use crate::types::clockid;
use rustix::time::ClockId;

/// The host clock for a preview1 clock id, or `inval`.
pub(crate) fn host_clock(id: u32) -> WasiResult<ClockId> {
    match id {
        clockid::REALTIME => Ok(ClockId::Realtime),
        clockid::MONOTONIC => Ok(ClockId::Monotonic),
        clockid::PROCESS_CPUTIME_ID => Ok(ClockId::ProcessCPUTime),
        clockid::THREAD_CPUTIME_ID => Ok(ClockId::ThreadCPUTime),
        _ => Err(Errno::Inval),
    }
}

fn to_nanos(t: rustix::time::Timespec) -> u64 {
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

/// The current time of `clock` in nanoseconds.
pub(crate) fn now(clock: ClockId) -> u64 {
    to_nanos(rustix::time::clock_gettime(clock))
}

/// `clock_res_get(id, resolution)`.
pub(crate) fn clock_res_get(
    _cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let clock = host_clock(a.u32(0))?;
    let res = to_nanos(rustix::time::clock_getres(clock)).max(1);
    mem.write_u64(a.u32(1), res)
}

/// `clock_time_get(id, precision, time)`.
pub(crate) fn clock_time_get(
    _cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let clock = host_clock(a.u32(0))?;
    mem.write_u64(a.u32(2), now(clock))
}

/// `random_get(buf, len)`: fills the buffer from the OS's random source.
pub(crate) fn random_get(
    _cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let len = a.u32(1);
    mem.fill(a.u32(0), len, |buf| {
        let mut filled = 0;
        while filled < buf.len() {
            match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty())
            {
                Ok(n) => filled += n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(filled)
    })?;
    Ok(())
}

/// `sched_yield()`.
pub(crate) fn sched_yield(
    _cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    _a: &Args<'_>,
) -> WasiResult<()> {
    std::thread::yield_now();
    Ok(())
}

/// `proc_raise(sig)`: signals are not part of the sandbox.
pub(crate) fn proc_raise(
    _cx: &mut WasiCtx,
    _mem: &mut GuestMemory<'_>,
    _a: &Args<'_>,
) -> WasiResult<()> {
    Err(Errno::NotSup)
}
