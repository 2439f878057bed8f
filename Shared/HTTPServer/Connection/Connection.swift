/// The state of one client connection. Touched only on the event-loop thread.
final class Connection {
    enum Phase {
        /// Waiting for, or reading, a request head.
        case awaitingHead
        /// The head is parsed and the responder's admitter is deciding whether to read the body;
        /// nothing past the head is read meanwhile.
        case admitting
        /// The head is parsed; reading its body.
        case readingBody
        /// A responder is working on the request; nothing more is parsed until it answers.
        case handling
        /// The last response is (being) written; the write side is then shut and unread input is
        /// discarded until the peer closes or the linger time ends.
        case closing
    }

    let fd: Int32
    let token: UInt64
    /// Rejected for the connection cap: only a 503 is written.
    let isRejected: Bool

    var phase = Phase.awaitingHead
    var headParser: RequestHeadParser
    var input: [UInt8] = []
    /// Bytes of `input` already consumed.
    var inputStart = 0
    var output: [UInt8] = []
    var outputStart = 0

    var pendingHead: ParsedRequestHead?
    /// The pending request's id (from its head) and who its admitter authenticated.
    var pendingRequestID = ""
    var pendingClientRequestID: String?
    var pendingPrincipal: (any Sendable)?
    /// The task running the admitter (`phase == .admitting`) or the responder (`.handling`).
    var handlerTask: Task<Void, Never>?
    /// A streaming responder waiting for the unsent output to drop below the watermark.
    var streamAck: CheckedContinuation<Bool, Never>?
    var bodyRemaining = 0
    /// When the body began (monotonic nanoseconds) and how many of its bytes arrived: its
    /// deadline follows the minimum rate (``HTTPServerTimeouts/bodyGrace``).
    var bodyStarted: UInt64 = 0
    var bodyBytesReceived = 0
    /// This connection's share of the process-wide body budget (``ServerLoop/bufferedBodyBytes``).
    var reservedBodyBytes = 0
    var chunkedDecoder: ChunkedBodyDecoder?
    var body: [UInt8] = []

    /// Edge-triggered epoll said there may be more to read, and we have not hit EAGAIN since.
    var mayRead = true
    /// The peer has shut its write side (read returned 0).
    var peerClosed = false
    /// The write side was shut after the final response.
    var writeShut = false
    var requestsServed = 0
    /// Bytes thrown away while lingering after the final response.
    var discardedBytes = 0
    /// When the current phase times out (monotonic nanoseconds); 0 = no deadline.
    var deadline: UInt64 = 0
    /// When writing pending output times out; 0 = nothing pending.
    var writeDeadline: UInt64 = 0

    init(fd: Int32, token: UInt64, limits: HTTPServerLimits, isRejected: Bool) {
        self.fd = fd
        self.token = token
        self.isRejected = isRejected
        self.headParser = RequestHeadParser(limits: limits)
    }

    var bufferedInput: Int { input.count - inputStart }
    var pendingOutputBytes: Int { output.count - outputStart }
    var hasPendingOutput: Bool { outputStart < output.count }

    /// Drops consumed input, releasing large buffers so idle connections stay small.
    func compactInput() {
        if inputStart == input.count {
            if input.capacity > 16 * 1024 { input = [] } else { input.removeAll(keepingCapacity: true) }
            inputStart = 0
        } else if inputStart > 0 && inputStart >= input.count / 2 {
            input.removeSubrange(0..<inputStart)
            inputStart = 0
        }
    }

    func compactOutput() {
        if outputStart == output.count {
            if output.capacity > 16 * 1024 { output = [] } else { output.removeAll(keepingCapacity: true) }
            outputStart = 0
        }
    }
}
