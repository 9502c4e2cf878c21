import Foundation
import TusProtocol

/// The protocol one upload speaks once created: tus 1.0, or the IETF draft
/// at one interop version.
enum Dialect: Sendable, Equatable {
    case tus
    case draft(DraftInteropVersion)

    /// The draft's interop version, nil for tus.
    var draftVersion: DraftInteropVersion? {
        if case .draft(let version) = self { return version }
        return nil
    }

    /// For spans and logs: `tus-1.0.0`, `ietf-draft-6`.
    var name: String {
        switch self {
        case .tus: "tus-\(tusProtocolVersion)"
        case .draft(let version): "ietf-draft-\(version.rawValue)"
        }
    }
}

/// What a request speaks: one dialect, or, for the first `POST` of an
/// upload in ``UploadProtocol/auto``, both (the answer decides).
enum Speech: Sendable, Equatable {
    case only(Dialect)
    case either(draft: DraftInteropVersion)

    /// Whether the request carries `Tus-Resumable` and tus's headers.
    var sendsTus: Bool {
        if case .only(.draft) = self { return false }
        return true
    }

    /// The interop version the request carries, if it speaks the draft.
    var draftVersion: DraftInteropVersion? {
        switch self {
        case .only(let dialect): dialect.draftVersion
        case .either(let version): version
        }
    }
}

/// How an upload's URL is kept in a `Storage`: a tus upload's as it is (what
/// tuspy stores), a draft upload's with the fragment
/// `#upload-draft-interop-version=N`, so that a later run resumes it in the
/// protocol it was created with. A fragment is never sent to the server.
enum StoredUploadURL {
    /// The fragment's name.
    static let fragmentName = "upload-draft-interop-version"

    /// The text stored for `url`.
    static func value(_ url: URL, dialect: Dialect) -> String {
        let plain = withoutFragment(url)
        guard let version = dialect.draftVersion else { return plain.absoluteString }
        return "\(plain.absoluteString)#\(fragmentName)=\(version.rawValue)"
    }

    /// The URL and dialect of a stored text; nil when it is not a URL. A
    /// fragment naming an interop version this client does not speak reads
    /// as nil too (the upload cannot be resumed here).
    static func parse(_ stored: String) -> (url: URL, dialect: Dialect)? {
        guard let url = URL(string: stored) else { return nil }
        guard let fragment = url.fragment, fragment.hasPrefix(fragmentName + "=") else {
            return (url, .tus)
        }
        guard let number = Int(fragment.dropFirst(fragmentName.count + 1)),
              let version = DraftInteropVersion(rawValue: number) else { return nil }
        return (withoutFragment(url), .draft(version))
    }

    /// The interop version a stored text's fragment names when this client
    /// does not speak it (a newer release may have stored it): nil for
    /// every other text.
    static func unspokenVersion(in stored: String) -> Int? {
        guard let fragment = URL(string: stored)?.fragment, fragment.hasPrefix(fragmentName + "=") else { return nil }
        let number = Int(fragment.dropFirst(fragmentName.count + 1))
        if let number, DraftInteropVersion(rawValue: number) != nil { return nil }
        return number ?? -1
    }

    /// `url` without its fragment (a server's `Location` rarely has one;
    /// it is never sent anyway).
    static func withoutFragment(_ url: URL) -> URL {
        guard url.fragment != nil, var components = URLComponents(url: url, resolvingAgainstBaseURL: true) else { return url }
        components.fragment = nil
        return components.url ?? url
    }
}
