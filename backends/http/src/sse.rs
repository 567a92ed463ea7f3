//! Server-sent events framing: bytes in, `data:` payloads out.

/// Collects bytes from a stream and yields complete `data:` payloads.
///
/// Events end with a blank line; a payload may be split across network chunks
/// at any byte, including inside a UTF-8 sequence, so bytes are buffered until
/// a full line is available.
#[derive(Default)]
pub(crate) struct EventBuffer {
    pending: Vec<u8>,
    data: Vec<String>,
}

impl EventBuffer {
    /// Feed a chunk; returns the payloads of every event it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut complete = Vec::new();
        while let Some(newline) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    complete.push(self.data.join("\n"));
                    self.data.clear();
                }
            } else if let Some(value) = line.strip_prefix("data:") {
                let value = value.strip_prefix(' ').unwrap_or(value);
                // Many servers omit the blank line after `[DONE]`; treat it as complete.
                if value == "[DONE]" {
                    if !self.data.is_empty() {
                        complete.push(self.data.join("\n"));
                        self.data.clear();
                    }
                    complete.push(value.to_owned());
                } else {
                    self.data.push(value.to_owned());
                }
            }
            // Comments (`:`), `event:`, `id:` and `retry:` lines carry nothing we need.
        }
        complete
    }
}

#[cfg(test)]
mod tests {
    use super::EventBuffer;

    #[test]
    fn joins_events_split_across_chunks() {
        let mut buffer = EventBuffer::default();
        assert!(buffer.push(b"data: {\"a\"").is_empty());
        assert!(buffer.push(b":1}\n").is_empty());
        assert_eq!(buffer.push(b"\ndata: [DONE]\n\n"), vec!["{\"a\":1}", "[DONE]"]);
    }

    #[test]
    fn handles_crlf_comments_and_split_utf8() {
        let mut buffer = EventBuffer::default();
        let text = "data: é\r\n\r\n".as_bytes();
        assert!(buffer.push(b": keep-alive\r\n\r\n").is_empty());
        assert!(buffer.push(&text[..7]).is_empty());
        assert_eq!(buffer.push(&text[7..]), vec!["é"]);
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let mut buffer = EventBuffer::default();
        assert_eq!(buffer.push(b"data: a\ndata: b\n\n"), vec!["a\nb"]);
    }
}
