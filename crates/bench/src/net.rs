//! Client sockets spread over several loopback source addresses (127.0.0.1, 127.0.0.2, …), so
//! that the ephemeral port range of one address never limits how many connections a run opens.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The loopback source address of connection `index` among `sources` addresses.
pub fn source_address(index: usize, sources: u8) -> IpAddr {
    let last_octet = 1 + u8::try_from(index % usize::from(sources.max(1))).unwrap_or(0);
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet))
}

/// Opens a TCP connection from one of the loopback source addresses and speaks WebSocket on it.
pub async fn connect(
    url: &str,
    server: SocketAddr,
    index: usize,
    sources: u8,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, String> {
    let source = source_address(index, sources);
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    let stream = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect {server}: {e}"))?;
    let (ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}
