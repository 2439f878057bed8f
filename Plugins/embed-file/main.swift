// embed-file: writes a Swift source that holds text files as `String` constants, byte for byte.
// The build tool of the EmbedFiles plugin (Plugins/EmbedFiles/EmbedFiles.swift, which describes
// the list file):
//
//     embed-file --list <embedded-files.txt> --root <package> --output <file.swift> [--tracked <path>]...
//
// Each line `Namespace.constant path` of the list becomes `static let constant` in `enum Namespace`
// (internal), holding the file at `<root>/<path>` as a raw multi-line string literal. Constants
// sharing a namespace share the enum. The file must be UTF-8 (a `String` cannot hold anything else).
//
// Why a raw string literal and not SwiftPM's `embedInCode` resources: those become a decimal byte
// array, which the compiler type-checks very slowly past a few tens of KB; a string literal of the
// 43 KB inbox document compiles in well under a second.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Failure: Error, CustomStringConvertible {
    var description: String
}

struct Entry {
    var namespace: String
    var constant: String
    var path: String
}

/// The literal for `text`: `#…#"""` + newline + body + newline + `"""#…#`.
///
/// It round-trips byte for byte:
/// - the delimiter has one `#` more than the longest run of `#` in the text, so neither the end
///   (`"""#…#`), an interpolation (`\#…#(`) nor any other escape (`\#…#`) can occur in it;
/// - line feeds and tabs are written as they are; every other control character (carriage return,
///   NUL, ESC, DEL, …) as a `\#…#u{…}` escape, because Swift reads a written CR LF as LF inside
///   multi-line literals and refuses most control characters in source;
/// - the closing delimiter stands in column 0, so no indentation is stripped, and the newline
///   before it is not part of the string.
func literal(for text: String) -> String {
    var longestRun = 0
    var run = 0
    for byte in text.utf8 {
        run = byte == UInt8(ascii: "#") ? run + 1 : 0
        longestRun = max(longestRun, run)
    }
    let hashes = String(repeating: "#", count: longestRun + 1)
    var body = ""
    body.reserveCapacity(text.utf8.count + 64)
    for scalar in text.unicodeScalars {
        switch scalar.value {
        case 0x0A, 0x09:
            body.unicodeScalars.append(scalar)
        case 0x00..<0x20, 0x7F:
            body += "\\\(hashes)u{\(String(scalar.value, radix: 16, uppercase: true))}"
        default:
            body.unicodeScalars.append(scalar)
        }
    }
    return "\(hashes)\"\"\"\n\(body)\n\"\"\"\(hashes)"
}

/// An ASCII Swift identifier (letters, digits, `_`; not starting with a digit).
func isIdentifier(_ name: Substring) -> Bool {
    func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || byte == UInt8(ascii: "_")
    }
    guard let first = name.utf8.first, isLetter(first) else { return false }
    return name.utf8.allSatisfy { isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
}

/// The entries of a list: blank lines and lines starting with `#` are skipped; every other line is
/// `Namespace.constant`, spaces, and a path inside the package (relative, no `..`).
func entries(ofList text: String, named listName: String) throws -> [Entry] {
    var entries: [Entry] = []
    var seen: Set<String> = []
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        if fields.isEmpty || fields[0].hasPrefix("#") { continue }
        let location = "\(listName):\(index + 1)"
        let parts = fields[0].split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 2, parts.count == 2, parts.allSatisfy(isIdentifier) else {
            throw Failure(description: "\(location): expected 'Namespace.constant path/from/the/package/root' (Swift identifiers)")
        }
        let path = String(fields[1])
        guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw Failure(description: "\(location): \(path) must be a path inside the package, relative to its root")
        }
        guard seen.insert(String(fields[0])).inserted else {
            throw Failure(description: "\(location): \(fields[0]) is named twice")
        }
        entries.append(Entry(namespace: String(parts[0]), constant: String(parts[1]), path: path))
    }
    guard !entries.isEmpty else { throw Failure(description: "\(listName) lists no file") }
    return entries
}

func read(_ path: String) throws -> Data {
    do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw Failure(description: "cannot read \(path): \(error)")
    }
}

func run(_ arguments: [String]) throws {
    var options: [String: String] = [:]
    var tracked: Set<String> = []
    var index = 0
    while index < arguments.count {
        let name = arguments[index]
        guard ["--list", "--root", "--output", "--tracked"].contains(name), index + 1 < arguments.count else {
            throw Failure(description: "usage: embed-file --list <file> --root <folder> --output <file.swift> [--tracked <path>]...")
        }
        if name == "--tracked" { tracked.insert(arguments[index + 1]) } else { options[name] = arguments[index + 1] }
        index += 2
    }
    guard let list = options["--list"], let root = options["--root"], let output = options["--output"] else {
        throw Failure(description: "usage: embed-file --list <file> --root <folder> --output <file.swift> [--tracked <path>]...")
    }
    let listName = list.hasPrefix(root + "/") ? String(list.dropFirst(root.count + 1)) : list
    guard let listText = String(validating: try read(list), as: UTF8.self) else {
        throw Failure(description: "\(listName) is not UTF-8")
    }

    var namespaces: [String] = []  // in order of first appearance, for a stable output
    var members: [String: [String]] = [:]
    for entry in try entries(ofList: listText, named: listName) {
        // The list is read here, so the output always follows it; but SwiftPM runs the plugin that
        // declares the build's inputs only when the package's structure changes
        // (swiftlang/swift-package-manager#7891), so a file just added to the list is not yet an
        // input: later edits to it would not rebuild. Say so instead of going stale.
        guard tracked.contains(entry.path) else {
            throw Failure(description: "\(listName) names \(entry.path), which this build does not track yet "
                + "(SwiftPM re-runs build-tool plugins only when the package's structure changes): touch Package.swift and build again")
        }
        let bytes = try read(root + "/" + entry.path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Failure(description: "\(entry.path) is not UTF-8 text (embed-file makes String constants)")
        }
        if members[entry.namespace] == nil { namespaces.append(entry.namespace) }
        members[entry.namespace, default: []].append("""
                /// `\(entry.path)`, byte for byte (\(bytes.count) bytes).
                static let \(entry.constant) = \(literal(for: text))
            """)
    }

    var source = "// Generated by embed-file (Plugins/embed-file) from \(listName) at build time. Do not edit, do not commit.\n"
    for namespace in namespaces {
        source += "\n/// Files compiled into this module (listed in \(listName)).\nenum \(namespace) {\n"
        source += members[namespace]!.joined(separator: "\n\n")
        source += "\n}\n"
    }
    try Data(source.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
}

do {
    try run(Array(CommandLine.arguments.dropFirst()))
} catch {
    let message = Array("embed-file: error: \(error)\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}
