//! An HTTP/2 connection run in memory, for the fuzz target and its corpus replay: the input
//! arrives in pieces through a [`Wire`] with a virtual clock (delays, pauses and rates pass
//! at once), the output is collected. No socket, no thread.

use super::conn;
use crate::control::ctx::{Ctx, Mode, Settings};
use crate::log::{Format, Logger};
use crate::plan::router::RouteTable;
use crate::plan::tcp::TcpPlan;
use crate::plan::Plan;
use crate::wire::{Fill, Wire};
use std::io;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Most output a run collects; beyond it writes fail, as to a client that stopped reading.
pub const MAX_OUTPUT: usize = 1 << 20;
/// Timeouts the wire returns after its input is used up, before it says the client left.
const IDLE_TURNS: usize = 16;

struct MemWire<'a> {
    pieces: Vec<&'a [u8]>,
    next: usize,
    buf: Vec<u8>,
    out: Vec<u8>,
    now: Instant,
    idle: usize,
}

impl Wire for MemWire<'_> {
    fn input(&self) -> &[u8] {
        &self.buf
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n.min(self.buf.len()));
    }

    fn fill(&mut self, deadline: Instant, cap: usize) -> Fill {
        if self.buf.len() >= cap {
            return Fill::Full;
        }
        if let Some(p) = self.pieces.get(self.next) {
            self.next += 1;
            self.buf.extend_from_slice(p);
            return Fill::Data(p.len());
        }
        self.idle += 1;
        if self.idle > IDLE_TURNS {
            return Fill::Eof;
        }
        self.now = self.now.max(deadline);
        Fill::Timeout
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.out.len() + bytes.len() > MAX_OUTPUT {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    fn now(&self) -> Instant {
        self.now
    }

    fn wait(&mut self, until: Instant) -> bool {
        self.now = self.now.max(until);
        true
    }

    fn await_acks(&mut self) {}

    fn reset(&mut self) {}

    fn close(&mut self, _drain: bool) {}

    fn hang(&mut self) {}
}

fn ctx() -> &'static Ctx {
    static CTX: OnceLock<Ctx> = OnceLock::new();
    CTX.get_or_init(|| {
        let settings = Settings {
            mode: Mode::Serve,
            read_timeout: Duration::from_secs(30),
            max_conns: 1,
            once: false,
            control: true,
            seed: 1,
            path_plans: true,
            h2c: true,
            ws_max_message: crate::ws::frame::DEFAULT_MAX_MESSAGE,
            tls: false,
            plan_given: true,
            upstream_idle: None,
            #[cfg(feature = "tls")]
            upstream_tls: None,
            files: crate::plan::Files::requests(None),
        };
        let log = Logger {
            format: Format::Text,
            quiet: true,
        };
        let routes = RouteTable::parse_specs(&[
            "POST /helloworld.Greeter/SayHello grpc-status=unavailable*2 ok".to_string(),
        ])
        .unwrap_or_default();
        Ctx::new(
            settings,
            Plan::default(),
            TcpPlan::default(),
            routes,
            64,
            log,
            None,
        )
    })
}

/// Serves `input` (the client's bytes, preface first) cut at `cuts` into pieces as a
/// connection's reads, and returns what the server wrote.
pub fn run(input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    for c in cuts {
        pieces.push(&input[at..c.max(at)]);
        at = c.max(at);
    }
    pieces.push(&input[at..]);
    let mut wire = MemWire {
        pieces,
        next: 0,
        buf: Vec::new(),
        out: Vec::new(),
        now: Instant::now(),
        idle: 0,
    };
    let peer = "127.0.0.1:1".parse().expect("an address");
    let mut won = false;
    conn::serve(
        ctx(),
        &mut wire,
        1,
        peer,
        None,
        &mut won,
        conn::Origin::default(),
    );
    wire.out
}
