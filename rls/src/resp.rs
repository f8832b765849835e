//! Just enough of Redis's protocol for the counters: `INCRBY` and
//! `EXPIRE … NX` in one round trip, on a fresh connection each time.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
pub struct Client {
    address: String,
}

fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

impl Client {
    /// `redis://host:port`.
    pub fn new(url: &str) -> Result<Client, String> {
        let address = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("not a redis:// URL: {url}"))?
            .trim_end_matches('/')
            .to_string();
        Ok(Client { address })
    }

    /// Adds `by` to `key`, which expires `seconds` after it was created;
    /// returns the new count.
    pub async fn incr_with_expiry(&self, key: &str, by: u64, seconds: u64) -> Result<u64, String> {
        let stream = TcpStream::connect(&self.address)
            .await
            .map_err(|e| format!("redis {}: {e}", self.address))?;
        let (read, mut write) = stream.into_split();
        let mut request = command(&["INCRBY", key, &by.to_string()]);
        request.extend(command(&["EXPIRE", key, &seconds.to_string(), "NX"]));
        write.write_all(&request).await.map_err(|e| e.to_string())?;
        let mut lines = BufReader::new(read);
        let count = integer(&mut lines, "INCRBY").await?;
        integer(&mut lines, "EXPIRE").await?;
        Ok(count)
    }
}

/// One integer reply (`:<n>`); an error reply says why.
async fn integer(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    what: &str,
) -> Result<u64, String> {
    let mut line = String::new();
    lines
        .read_line(&mut line)
        .await
        .map_err(|e| e.to_string())?;
    line.strip_prefix(':')
        .and_then(|n| n.trim_end().parse::<u64>().ok())
        .ok_or_else(|| format!("redis {what}: {}", line.trim_end()))
}
