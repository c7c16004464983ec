//! `poll_oneoff`: waits for clocks and for fds to become readable or writable. Regular
//! files, in-memory stdio and errors are ready at once; host stdio and sockets are polled
//! with `poll(2)`, its timeout being the nearest clock.

use super::Args;
use super::clock::{host_clock, now};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::fd_table::Handle;
use crate::memory::GuestMemory;
use crate::types::{
    EVENT_FD_READWRITE_HANGUP, EVENT_SIZE, SUBSCRIPTION_CLOCK_ABSTIME, SUBSCRIPTION_SIZE,
    eventtype, rights,
};
use rustix::event::{PollFd, PollFlags};
use rustix::time::ClockId;
use std::os::fd::{AsFd, BorrowedFd};

/// One event to report.
#[derive(Clone, Copy, Debug, Default)]
struct Event {
    userdata: u64,
    error: u16,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

impl Event {
    fn to_bytes(self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&self.error.to_le_bytes());
        b[10] = self.kind;
        b[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        b[24..26].copy_from_slice(&self.flags.to_le_bytes());
        b
    }
}

/// A clock subscription: its deadline on the monotonic clock.
struct ClockSub {
    userdata: u64,
    deadline: u64,
}

/// An fd subscription that needs the host's `poll`.
struct FdSub<'a> {
    userdata: u64,
    kind: u8,
    fd: BorrowedFd<'a>,
}

/// `poll_oneoff(in, out, nsubscriptions, nevents)`.
pub(crate) fn poll_oneoff(
    cx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    a: &Args<'_>,
) -> WasiResult<()> {
    let (inp, out, nsubs, nevents) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    if nsubs == 0 {
        return Err(Errno::Inval);
    }
    mem.check(inp, u64::from(nsubs) * u64::from(SUBSCRIPTION_SIZE))?;
    mem.check(out, u64::from(nsubs) * u64::from(EVENT_SIZE))?;
    mem.check(nevents, 4)?;

    let mono_now = now(ClockId::Monotonic);
    let mut ready: Vec<Event> = Vec::new();
    let mut clocks: Vec<ClockSub> = Vec::new();
    let mut fds: Vec<FdSub<'_>> = Vec::new();
    for i in 0..nsubs {
        let at = inp + i * SUBSCRIPTION_SIZE;
        let userdata = mem.read_u64(at)?;
        let tag = mem.read_u8(at + 8)?;
        match tag {
            eventtype::CLOCK => {
                let id = mem.read_u32(at + 16)?;
                let timeout = mem.read_u64(at + 24)?;
                let flags = mem.read_u16(at + 40)?;
                let clock = match host_clock(id) {
                    Ok(c) => c,
                    Err(e) => {
                        ready.push(Event {
                            userdata,
                            error: e as u16,
                            kind: tag,
                            ..Event::default()
                        });
                        continue;
                    }
                };
                // Convert to a monotonic deadline.
                let relative = if flags & SUBSCRIPTION_CLOCK_ABSTIME != 0 {
                    timeout.saturating_sub(now(clock))
                } else {
                    timeout
                };
                clocks.push(ClockSub {
                    userdata,
                    deadline: mono_now.saturating_add(relative),
                });
            }
            eventtype::FD_READ | eventtype::FD_WRITE => {
                let fd = mem.read_u32(at + 16)?;
                let read = tag == eventtype::FD_READ;
                let mut ev = Event {
                    userdata,
                    kind: tag,
                    ..Event::default()
                };
                let entry = match cx.fds.get(fd) {
                    Ok(e) => e,
                    Err(e) => {
                        ev.error = e as u16;
                        ready.push(ev);
                        continue;
                    }
                };
                let needed = if read {
                    rights::FD_READ
                } else {
                    rights::FD_WRITE
                };
                if entry.require(needed).is_err() {
                    ev.error = Errno::NotCapable as u16;
                    ready.push(ev);
                    continue;
                }
                let host: Option<BorrowedFd<'_>> = match &entry.handle {
                    Handle::File(f) => {
                        if read {
                            let size = rustix::fs::fstat(f).map(|s| s.st_size as u64).unwrap_or(0);
                            let pos = rustix::fs::tell(f).unwrap_or(0);
                            ev.nbytes = size.saturating_sub(pos);
                        }
                        None
                    }
                    Handle::Stdin(input) => match input.ready_bytes() {
                        Some(n) => {
                            ev.nbytes = n;
                            None
                        }
                        None => Some(crate::stdio::host_fd(0)),
                    },
                    Handle::Stdout(o) => o.host_fd(),
                    Handle::Stream(s) => Some(s.as_fd()),
                    Handle::Listener(l) => Some(l.as_fd()),
                    Handle::Dir { .. } => {
                        ev.error = Errno::Badf as u16;
                        None
                    }
                };
                match host {
                    Some(fd) => fds.push(FdSub {
                        userdata,
                        kind: tag,
                        fd,
                    }),
                    None => ready.push(ev),
                }
            }
            _ => return Err(Errno::Inval),
        }
    }

    // Host fds: a non-blocking poll if something is ready already, else wait for the
    // nearest clock (or forever without one).
    let mut events = ready;
    let nearest = clocks.iter().map(|c| c.deadline).min();
    loop {
        let timeout_ns = if !events.is_empty() {
            Some(0)
        } else {
            nearest.map(|d| d.saturating_sub(now(ClockId::Monotonic)))
        };
        if !fds.is_empty() {
            let mut pfds: Vec<PollFd<'_>> = fds
                .iter()
                .map(|s| {
                    let flags = if s.kind == eventtype::FD_READ {
                        PollFlags::IN
                    } else {
                        PollFlags::OUT
                    };
                    PollFd::from_borrowed_fd(s.fd, flags)
                })
                .collect();
            let ts = timeout_ns.map(|ns| rustix::time::Timespec {
                tv_sec: (ns / 1_000_000_000) as i64,
                tv_nsec: (ns % 1_000_000_000) as _,
            });
            match rustix::event::poll(&mut pfds, ts.as_ref()) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            for (p, s) in pfds.iter().zip(&fds) {
                let re = p.revents();
                if re.is_empty() {
                    continue;
                }
                let mut ev = Event {
                    userdata: s.userdata,
                    kind: s.kind,
                    nbytes: 1,
                    ..Event::default()
                };
                if re.contains(PollFlags::NVAL) {
                    ev.error = Errno::Badf as u16;
                } else if re.contains(PollFlags::ERR) {
                    ev.error = Errno::Io as u16;
                } else if re.contains(PollFlags::HUP) {
                    ev.flags = EVENT_FD_READWRITE_HANGUP;
                    ev.nbytes = 0;
                }
                events.push(ev);
            }
        } else if let Some(ns) = timeout_ns.filter(|&ns| ns > 0) {
            std::thread::sleep(std::time::Duration::from_nanos(ns));
        } else if timeout_ns.is_none() && events.is_empty() {
            // Nothing can ever happen: preview1 would block forever.
            return Err(Errno::Inval);
        }
        let t = now(ClockId::Monotonic);
        for c in &clocks {
            if c.deadline <= t {
                events.push(Event {
                    userdata: c.userdata,
                    kind: eventtype::CLOCK,
                    ..Event::default()
                });
            }
        }
        if !events.is_empty() {
            break;
        }
    }

    events.truncate(nsubs as usize);
    for (i, ev) in events.iter().enumerate() {
        mem.write_bytes(out + i as u32 * EVENT_SIZE, &ev.to_bytes())?;
    }
    mem.write_u32(nevents, events.len() as u32)
}
