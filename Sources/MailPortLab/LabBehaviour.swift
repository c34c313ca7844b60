/// What a lab endpoint does with a client: a scripted mail server, or one of the ways real servers misbehave.
public enum LabBehaviour: Sendable, Hashable {
    case smtp(SMTPScript)
    case imap(IMAPScript)
    case pop3(POP3Script)
    /// Accepts and never says a word.
    case silent
    /// Sends these bytes on connect, then ignores the client (another protocol: SSH, HTTP, a banner).
    case raw(String)
    /// Sends `line` (CRLF added) over and over, as fast as the client reads, until it hangs up.
    case endless(line: String)
    /// Sends `text` one byte every `millisecondsPerByte`, then behaves like `then`.
    indirect case slow(text: String, millisecondsPerByte: Int)
    /// Says nothing until the client's request ends with an empty line (as an HTTP request does), then sends `text`
    /// and hangs up: a service that waits for the client to speak first.
    case answersRequest(String)
}

public struct SMTPScript: Sendable, Hashable {
    /// Greeting lines after the code (several make a multi-line `220-` greeting).
    public var greeting: [String]
    /// Extension lines of the EHLO reply (after the server's name).
    public var extensions: [String]
    /// Reply to EHLO other than 250 (then HELO is answered with 250), e.g. "502 5.5.2 command not recognized".
    public var ehloRejection: String?
    /// Reply to STARTTLS; after a 220 the server hangs up (this lab has no TLS).
    public var starttlsReply: String
    /// The first this-many connections are greeted with `busyReply` and closed (a busy server).
    public var busyConnections: Int
    public var busyReply: String
    /// Executes commands pipelined after STARTTLS once inside TLS (the CVE-2011-0411 flaw).
    public var vulnerableToInjection: Bool
    /// Waits this long before greeting (a slow server that still answers, sendmail's greet_pause).
    public var greetingDelayMilliseconds: Int
    /// Sends every greeting line but the last at once, and the last one this long after (postscreen: `220-` at once,
    /// `220 ` after its greet wait).
    public var finalGreetingLineDelayMilliseconds: Int
    /// Relaying: recipients outside the lab's own domain are refused ("554 5.7.1 Relay access denied") unless their
    /// address contains one of these strings ("" relays everything: an open relay; "%" misses the %-hack; a
    /// non-empty string is missed also in a recipient at the lab's own name, "\"@lab" the quoted form routed there).
    public var relayAccepting: [String]
    /// VRFY and EXPN answer (252/250) instead of "502 5.5.1 VRFY command is disabled".
    public var vrfyEnabled: Bool
    /// A reply to every RCPT instead of the policy's (a deferral such as "452 4.5.3 Too many recipients", or "421 …",
    /// after which the server hangs up).
    public var rcptReply: String?
    /// MAIL is refused with "530 5.7.0 Authentication required" (a submission port done right).
    public var mailRequiresAuthentication: Bool
    /// The first this-many connections hang up at their first command inside TLS (a server failing after the
    /// handshake: the dialog is retried).
    public var hangUpInsideTLSConnections: Int

    public init(
        greeting: [String] = ["lab.mailport.test ESMTP"], extensions: [String] = ["PIPELINING", "SIZE 10240000"],
        ehloRejection: String? = nil, starttlsReply: String = "220 2.0.0 Ready to start TLS",
        busyConnections: Int = 0, busyReply: String = "421 4.7.0 lab.mailport.test Error: too many connections",
        vulnerableToInjection: Bool = false, greetingDelayMilliseconds: Int = 0,
        finalGreetingLineDelayMilliseconds: Int = 0, relayAccepting: [String] = [], vrfyEnabled: Bool = false,
        rcptReply: String? = nil, mailRequiresAuthentication: Bool = false, hangUpInsideTLSConnections: Int = 0
    ) {
        self.greeting = greeting
        self.extensions = extensions
        self.ehloRejection = ehloRejection
        self.starttlsReply = starttlsReply
        self.busyConnections = busyConnections
        self.busyReply = busyReply
        self.vulnerableToInjection = vulnerableToInjection
        self.greetingDelayMilliseconds = greetingDelayMilliseconds
        self.finalGreetingLineDelayMilliseconds = finalGreetingLineDelayMilliseconds
        self.relayAccepting = relayAccepting
        self.vrfyEnabled = vrfyEnabled
        self.rcptReply = rcptReply
        self.mailRequiresAuthentication = mailRequiresAuthentication
        self.hangUpInsideTLSConnections = hangUpInsideTLSConnections
    }
}

public struct IMAPScript: Sendable, Hashable {
    /// OK, PREAUTH or BYE.
    public var greetingStatus: String
    public var capabilities: [String]
    /// Put the capabilities in the greeting's `[CAPABILITY …]` code (as Dovecot does) or only answer CAPABILITY.
    public var capabilitiesInGreeting: Bool
    /// Never send the tagged completion of a command (a broken server).
    public var withholdTaggedReplies: Bool

    public init(
        greetingStatus: String = "OK", capabilities: [String] = ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"],
        capabilitiesInGreeting: Bool = true, withholdTaggedReplies: Bool = false
    ) {
        self.greetingStatus = greetingStatus
        self.capabilities = capabilities
        self.capabilitiesInGreeting = capabilitiesInGreeting
        self.withholdTaggedReplies = withholdTaggedReplies
    }
}

public struct POP3Script: Sendable, Hashable {
    /// CAPA lines; nil answers CAPA with -ERR (an old server).
    public var capabilities: [String]?

    public init(capabilities: [String]? = ["TOP", "UIDL", "STLS", "SASL PLAIN"]) {
        self.capabilities = capabilities
    }
}
