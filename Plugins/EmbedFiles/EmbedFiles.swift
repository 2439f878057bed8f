// EmbedFiles: a build-tool plugin that compiles text files into a target as `String` constants,
// generated at build time whenever one of them changes (never a committed copy).
//
// A target that uses it (`plugins: ["EmbedFiles"]`) lists its files in `embedded-files.txt` in its
// own folder, one per line:
//
//     # the constant              the file, from the package root
//     OpenAPIDocument.yaml        Services/intake/openapi.yaml
//
// and gets `enum OpenAPIDocument { static let yaml: String }` (internal), generated into the
// plugin's work directory by the `embed-file` tool (Plugins/embed-file/main.swift). Constants with
// the same namespace share its enum (`WebAssets.stylesheet`, `WebAssets.script`).
//
// Paths are relative to the package root, not to the target: a target sees only its own folder,
// but the files worth embedding (the OpenAPI documents the README links) live beside it. The list
// is the one place that names them; they must stay inside the package (no absolute path, no `..`),
// so a build reads nothing outside the checkout.
//
// The tool reads and checks the list itself (one parser, the consumer's); this plugin only takes
// the paths from it to declare them as the command's inputs, so editing a listed file or the list
// regenerates the source.
import Foundation
import PackagePlugin

@main
struct EmbedFiles: BuildToolPlugin {
    struct PluginError: Error, CustomStringConvertible {
        var description: String
    }

    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        guard let target = target as? SwiftSourceModuleTarget else {
            throw PluginError(description: "\(target.name): EmbedFiles adds a Swift source, so it applies to Swift targets only")
        }
        let list = target.directoryURL.appendingPathComponent("embedded-files.txt")
        guard let data = FileManager.default.contents(atPath: list.path) else {
            throw PluginError(description: "\(target.name) uses EmbedFiles but has no \(list.path)")
        }
        // The second field of every line that is not blank or a comment (embed-file checks the rest).
        let paths = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            return fields.count == 2 && !fields[0].hasPrefix("#") ? String(fields[1]) : nil
        }
        let root = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("EmbeddedFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(paths.joined(separator: ", ")) in \(target.name)",
                executable: try context.tool(named: "embed-file").url,
                arguments: ["--list", list.path, "--root", root.path, "--output", output.path] + paths.flatMap { ["--tracked", $0] },
                inputFiles: [list] + paths.map { root.appendingPathComponent($0) },
                outputFiles: [output]
            ),
        ]
    }
}
