//! PING (RFC 9113 section 6.7): the server answers every PING from the client with its 8 bytes
//! and the ACK flag, until a plan says `ping-timeout` (then never again on that connection). The
//! server sends no PINGs of its own, so an acknowledgement from the client needs nothing. An
//! answer is the size of the PING it answers: a flood of PINGs is answered with exactly as many
//! bytes as it sent, and a client that does not read them stalls only itself. Pure.

use super::frame::Ping;

/// Whether PINGs are answered.
#[derive(Debug)]
pub struct PingPong {
    answering: bool,
}

impl Default for PingPong {
    fn default() -> PingPong {
        PingPong { answering: true }
    }
}

impl PingPong {
    /// `ping-timeout`: no more answers on this connection.
    pub fn stop(&mut self) {
        self.answering = false;
    }

    /// The 8 bytes to send back with ACK, when this PING gets an answer.
    pub fn recv(&self, ping: &Ping) -> Option<[u8; 8]> {
        (!ping.ack && self.answering).then_some(ping.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_is_echoed_until_ping_timeout_and_acks_need_nothing() {
        let mut p = PingPong::default();
        let ping = Ping {
            ack: false,
            data: *b"12345678",
        };
        assert_eq!(p.recv(&ping), Some(*b"12345678"));
        assert_eq!(p.recv(&Ping { ack: true, ..ping }), None);
        p.stop();
        assert_eq!(p.recv(&ping), None);
    }
}
