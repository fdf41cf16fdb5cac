//! What a queue consumer's handler decides about its batch: the calls
//! `ack()`, `retry()`, `ackAll()` and `retryAll()` made, kept as they are
//! made (a handler stopped by a limit keeps the ones it made before), and
//! what becomes of each message once the handler is done.

/// What a handler said of one message, or of its whole batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ack,
    /// Deliver it again, after this many seconds (`None`: the consumer's
    /// `retry_delay`).
    Retry {
        delay_seconds: Option<u32>,
    },
}

/// The verdicts of one batch so far. JavaScript applies Cloudflare's
/// precedence between the calls (js/queues/09_queues.js) and records only
/// the calls that take effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchVerdicts {
    /// By the message's index in the batch.
    pub messages: Vec<Option<Verdict>>,
    /// `ackAll()` or `retryAll()`.
    pub batch: Option<Verdict>,
}

impl BatchVerdicts {
    pub fn new(messages: usize) -> Self {
        Self {
            messages: vec![None; messages],
            batch: None,
        }
    }

    /// What becomes of message `index` once the handler is done
    /// (`handler_ok`: it returned without throwing): its own verdict, else
    /// the batch's, else acknowledged if the handler succeeded and retried
    /// if it did not.
    pub fn outcome(&self, index: usize, handler_ok: bool) -> Verdict {
        self.messages
            .get(index)
            .copied()
            .flatten()
            .or(self.batch)
            .unwrap_or(if handler_ok {
                Verdict::Ack
            } else {
                Verdict::Retry {
                    delay_seconds: None,
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_verdict_wins_over_the_batch_and_the_outcome() {
        let retry = Verdict::Retry {
            delay_seconds: Some(5),
        };
        let mut verdicts = BatchVerdicts::new(3);
        verdicts.messages[0] = Some(Verdict::Ack);
        verdicts.messages[1] = Some(retry);
        assert_eq!(verdicts.outcome(0, false), Verdict::Ack);
        assert_eq!(verdicts.outcome(1, true), retry);
        assert_eq!(verdicts.outcome(2, true), Verdict::Ack);
        assert_eq!(
            verdicts.outcome(2, false),
            Verdict::Retry {
                delay_seconds: None
            }
        );
        verdicts.batch = Some(Verdict::Ack);
        assert_eq!(verdicts.outcome(2, false), Verdict::Ack);
        assert_eq!(verdicts.outcome(1, true), retry);
    }
}
