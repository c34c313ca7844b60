import MailPortPattern
import Testing

@Suite("Pattern warnings")
struct PatternWarningTests {
    @Test(
        "nested quantifiers over the same characters are flagged",
        arguments: [
            "(a+)+", "(a*)*", "((a*)*)*$", "(.*)*x", "(a+)+$", #"^(\w+\s?)+$"#, "(x+x+)+y", "(?:a{1,3})+",
        ])
    func nested(_ source: String) throws {
        #expect(
            try Pattern(source).warnings.contains {
                $0.hasPrefix("a repetition inside a repetition over the same characters")
            })
    }

    @Test(
        "repeated choices whose branches begin alike are flagged",
        arguments: ["(a|aa)+", "(a|a)*b", "(ab|ac){2,}", "(a|ab)*c"])
    func overlapping(_ source: String) throws {
        #expect(
            try Pattern(source).warnings.contains {
                $0.hasPrefix("a repeated choice whose branches can begin with the same character")
            })
    }

    @Test(
        "safe shapes are not flagged",
        arguments: [
            #"(\.\d+)*"#, #"(\w+\.)+com"#, "(a+b)+", "(?:exim|postfix)+", "a+b+", #"[^\n]{0,24}?\d+"#, "(a?){3}",
            #"(?i)\b(exim|postfix|sendmail|dovecot|courier|cyrus|qmail|opensmtpd|haraka|zimbra|exchange|hmailserver|mdaemon|kerio|icewarp|axigen|communigate|qpopper|popa3d|uw imapd)\b[^\n]{0,24}?\d+\.\d+(\.\d+)*"#,
            #"(?i)\bversion:?\s*\d+\.\d+"#, "(?i)sha1",
        ])
    func safe(_ source: String) throws {
        #expect(try Pattern(source).warnings.isEmpty)
    }
}
