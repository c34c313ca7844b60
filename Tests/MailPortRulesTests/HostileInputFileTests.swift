import Foundation
import MailPortConfig
import MailPortCore
import MailPortTestSupport
import MailPortYAML
import Testing

@testable import MailPortRules

/// Files people hand to MailPort (config, rules, waivers) are read as strictly as network input: no construct may
/// make a small file cost unbounded time or memory.
@Suite("Hostile input files")
struct HostileInputFileTests {
    /// Ten levels of lists of ten aliases: 10^10 nodes once expanded, 1 KB on disk.
    static func aliasBomb(under key: String) -> String {
        var lines = ["l0: &l0 [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]"]
        for level in 1..<10 {
            lines.append(
                "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ",") + "]")
        }
        lines.append("\(key): [*l9]")
        return lines.joined(separator: "\n") + "\n"
    }

    static func write(_ text: String, name: String) throws -> String {
        let path = makeTemporaryDirectory() + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func isAnchorError(_ error: any Error, path: String, line: Int) -> Bool {
        guard let error = error as? MailPortError else { return false }
        return error.exitStatus == 2 && error.message.hasPrefix("\(path):\(line): a YAML anchor '&")
    }

    @Test("an alias bomb in a config file is refused at its first anchor, with FILE:LINE")
    func configAliasBomb() throws {
        let path = try Self.write(Self.aliasBomb(under: "targets"), name: "audit.yaml")
        #expect { try ConfigFile.load(path) } throws: { Self.isAnchorError($0, path: path, line: 1) }
    }

    @Test("an alias bomb in a rules file is refused, with FILE:LINE")
    func rulesAliasBomb() throws {
        let path = try Self.write(Self.aliasBomb(under: "rules"), name: "rules.yaml")
        #expect { try RuleLoader.load(paths: [path]) } throws: { Self.isAnchorError($0, path: path, line: 1) }
    }

    @Test("an alias bomb in a waivers file is refused, with FILE:LINE")
    func waiversAliasBomb() throws {
        let path = try Self.write(Self.aliasBomb(under: "waivers"), name: "waivers.yaml")
        #expect { try WaiverLoader.load(path: path, ruleSet: try RuleLoader.builtin()) } throws: {
            Self.isAnchorError($0, path: path, line: 1)
        }
    }

    @Test("a single harmless-looking anchor is refused too, on its own line; a merge key with an alias as well")
    func anyAnchorIsRefused() throws {
        #expect { try YAMLNode.parse("a: 1\nb: &x 2\nc: *x\n", file: "f.yaml") } throws: {
            Self.isAnchorError($0, path: "f.yaml", line: 2)
        }
        #expect { try YAMLNode.parse("base: &b {x: 1}\nother:\n  <<: *b\n", file: "g.yaml") } throws: {
            Self.isAnchorError($0, path: "g.yaml", line: 1)
        }
        // An alias as a mapping key inside the bomb (the fuzzer's find): refused before the parser hashes it.
        let keyed = Self.aliasBomb(under: "targets").replacingOccurrences(of: "l7: &l7 [*l6", with: "l7: &l7 [?*l6")
        #expect { try YAMLNode.parse(keyed, file: "k.yaml") } throws: {
            Self.isAnchorError($0, path: "k.yaml", line: 1)
        }
        // Text that merely contains & or * is plain text.
        let plain = try YAMLNode.parse("a: 'R&D *bold*'\nb: \"&x\"\n", file: "h.yaml")
        #expect(try plain.mapping("doc", allowed: ["a", "b"])["a"]?.string("a") == "R&D *bold*")
    }

    @Test("an oversized or non-regular YAML file is an input error naming it, read no further than the bound")
    func oversizedAndSpecialFiles() throws {
        let path = makeTemporaryDirectory() + "/big.yaml"
        FileManager.default.createFile(
            atPath: path, contents: Data(repeating: UInt8(ascii: "#"), count: BoundedFile.yamlLimit + 1))
        #expect { try ConfigFile.load(path) } throws: { error in
            (error as? MailPortError)?.message == "'\(path)' is larger than 4 MiB; expected a readable YAML file"
        }
        // /dev/zero never ends: it must be refused, not read.
        #expect { try ConfigFile.load("/dev/zero") } throws: { error in
            (error as? MailPortError)?.message.contains("is not a regular file") == true
        }
        #expect { try RuleLoader.load(paths: ["/dev/zero"]) } throws: { error in
            (error as? MailPortError)?.exitStatus == 2
        }
    }
}
