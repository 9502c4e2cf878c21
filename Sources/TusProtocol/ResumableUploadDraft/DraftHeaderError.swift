/// A header of the IETF draft "Resumable Uploads for HTTP" whose value
/// cannot be read, or a value that cannot be written, said in one sentence
/// that names the header, shows the value and says what is wrong:
///
/// ```text
/// Upload-Offset "-5" is negative: expected a byte count such as 0 or 1024
/// Upload-Limit "max-size=?1" gives max-size as a boolean, not an integer
/// ```
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package struct DraftHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The header, as the draft spells it (`Upload-Complete`).
    package var header: String
    /// The value read, or the number that could not be written, as text.
    package var value: String
    /// What is wrong with it, the end of the sentence that ``description``
    /// makes: `is negative: expected a byte count such as 0 or 1024`.
    package var problem: String
    /// Whether the value is well formed but names an interop version this
    /// package does not speak (only for `Upload-Draft-Interop-Version`): a
    /// server then treats the request as a plain upload (this package's
    /// development server, whose endpoint takes only uploads, answers `400`
    /// naming the versions it speaks instead), a client ignores the `104`
    /// (draft -12 Appendix B).
    package var isUnsupportedVersion: Bool

    /// An error about `value` of `header`.
    package init(header: String, value: String, problem: String, isUnsupportedVersion: Bool = false) {
        self.header = header
        self.value = value
        self.problem = problem
        self.isUnsupportedVersion = isUnsupportedVersion
    }

    /// The sentence: the header, the value quoted, the problem.
    package var description: String {
        "\(header) \(Self.quoted(value)) \(problem)"
    }

    /// The longest value shown whole; a longer one is cut, with `…`.
    private static let shownLength = 60

    /// `value` in double quotes, with quotes, backslashes and anything that
    /// is not printable ASCII escaped (a header can carry any byte), cut
    /// after ``shownLength`` characters.
    private static func quoted(_ value: String) -> String {
        var shown = ""
        var count = 0
        for scalar in value.unicodeScalars {
            if count == shownLength {
                shown += "…"
                break
            }
            count += 1
            switch scalar {
            case "\"": shown += "\\\""
            case "\\": shown += "\\\\"
            case " "..."~": shown.unicodeScalars.append(scalar)
            default: shown += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return "\"\(shown)\""
    }
}
