import ArgumentParser
import Foundation
import Logging
import TusClient
import TusCore
import TusFingerprints

/// `tus upload FILE --endpoint URL`: a resumable upload.
struct UploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a file to a tus server, resuming an earlier attempt when the store knows one.",
        discussion: """
            The upload URL is kept in the store (see `tus store --help`) under the file's fingerprint \
            from the moment the server creates the upload, so running the same command again after a \
            crash, Ctrl-C or a lost network resumes where the server stopped. It is removed once the \
            upload has finished, unless --keep-url is given. The upload URL is the last line printed \
            on standard output; progress and messages go to standard error.

            FILE - reads standard input: a pipe is sent as a stream of unknown length, which a later \
            run cannot resume.

            Requests grow on a good link and halve after a 413 (a body limit) or a link that fails \
            mid-request; --chunk-size caps them. A request through which nothing moves for \
            --stall-timeout is abandoned and the upload goes on from the server's offset.

            HTTPS trusts the system's CAs, those in $SSL_CERT_FILE (instead) and $SSL_CERT_DIR, \
            and those given with --cacert. Proxies come from https_proxy, http_proxy, all_proxy and \
            no_proxy, as curl reads them.
            """
    )

    @Argument(help: ArgumentHelp("The files to upload, or - for standard input.", valueName: "file"))
    var files: [String] = []

    @Option(help: ArgumentHelp("How many of several files go up at once.", valueName: "n"))
    var jobs: Int = 4

    @Option(help: ArgumentHelp("The server's creation endpoint, such as http://127.0.0.1:1080/files/.", valueName: "url"))
    var endpoint: String

    @Option(help: ArgumentHelp("The store of upload URLs: \(StoreSpec.forms).", valueName: "spec"))
    var store: String?

    @Flag(help: "Keep no upload URL: the upload cannot be resumed by a later run.")
    var noStore = false

    @Option(help: "The fingerprint the URL is stored under: md5 (tuspy's) or sha256.")
    var fingerprint: FingerprintCommand.Algorithm = .md5

    @Option(help: ArgumentHelp("The most bytes sent per request: 5MiB, 512KiB, 1048576. By default sizes adapt to the link.", valueName: "size"))
    var chunkSize: ByteCount?

    @Option(help: ArgumentHelp("Upload metadata, repeatable. filename and filetype are sent by default.", valueName: "key=value"))
    var metadata: [String] = []

    @Option(help: ArgumentHelp("An extra request header, repeatable.", valueName: "Name: value"))
    var header: [String] = []

    @Option(help: "How many times a failed request is tried again.")
    var retries: Int = 5

    @Option(help: "Send a checksum of each chunk when the server supports it: sha1, sha256 or md5.")
    var checksum: ChecksumAlgorithm?

    @Option(help: "How progress shows on standard error: bar (for people) or json (one JSON object a line, for programs).")
    var progress: ProgressFormat = .bar

    @Flag(name: [.customShort("v"), .long], help: "Show each request on standard error; -vv shows their headers too (secrets masked). TUS_LOG_LEVEL=debug or trace does the same.")
    var verbose: Int

    @Flag(help: "Stop when the store cannot be reached, instead of uploading without it (a later run could not resume).")
    var requireStore = false

    @Flag(help: "Keep the upload URL in the store after the upload has finished.")
    var keepURL = false

    @Option(help: ArgumentHelp(
        "Upload the file in this many parts at once, joined on the server (tus concatenation).",
        discussion: "Pays where one connection cannot fill the link (a cap per connection, a long round trip); on a fast local link it only adds requests and the server's join.",
        valueName: "n"))
    var parallel: Int = 1

    @Option(name: .customLong("protocol"), help: ArgumentHelp(
        "The protocol of a new upload: tus (tus 1.0), ietf (the IETF draft Resumable Uploads for HTTP, interop version 6) or auto.",
        discussion: "auto lets the server's first answer decide. An upload resumed from the store goes on in the protocol it was created with.",
        valueName: "tus|ietf|auto"))
    var uploadProtocol: UploadProtocol = .auto

    @Option(help: ArgumentHelp("Abandon a request through which nothing moves for this long, and go on: 30s, 2m.", valueName: "duration"))
    var stallTimeout: DurationArgument = DurationArgument(argument: "30s")!

    @Option(help: ArgumentHelp("Also trust the CA certificates in this PEM file, repeatable.", valueName: "file"))
    var cacert: [String] = []

    @Option(help: ArgumentHelp("A client certificate (PEM) for servers that ask for one.", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("The private key (PEM) of --cert; by default read from the --cert file.", valueName: "file"))
    var key: String?

    @Flag(name: [.customShort("k"), .long], help: "Do not check the server's certificate (tests only: anyone on the path can read and change the upload).")
    var insecure = false

    func validate() throws {
        if noStore && store != nil {
            throw ValidationError("--store and --no-store cannot be used together")
        }
        if noStore && requireStore {
            throw ValidationError("--require-store and --no-store cannot be used together")
        }
        if retries < 0 {
            throw ValidationError("--retries cannot be negative")
        }
        if parallel < 1 {
            throw ValidationError("--parallel takes a number of parts, 1 or more")
        }
        if parallel > 1 && uploadProtocol == .ietfDraft {
            throw ValidationError("--parallel needs tus's concatenation, which the IETF draft has no counterpart of: use --protocol tus or auto, or one part")
        }
        if key != nil && cert == nil {
            throw ValidationError("--key goes with --cert")
        }
        if files.isEmpty {
            throw ValidationError("name a file to upload, or - for standard input")
        }
        if files.count > 1 && files.contains("-") {
            throw ValidationError("- (standard input) is uploaded alone, not with other files")
        }
        if files == ["-"] && keepURL {
            throw ValidationError("--keep-url has no use with standard input, which is never stored")
        }
        if jobs < 1 {
            throw ValidationError("--jobs takes a number of files, 1 or more")
        }
    }

    func run() async throws {
        JSONLines.enabled = progress == .json
        let (client, options) = try clientAndOptions()
        let spec = noStore ? nil : try StoreSpec(store)
        if files.count > 1 {
            try await ManyFilesUpload(client: client, options: options, store: spec, jobs: jobs, verbose: VerboseLog(flags: verbose)).run(files)
        } else {
            try await uploadOne(files[0], client: client, options: options, store: spec)
        }
    }

    /// The client and the options every file's upload uses.
    private func clientAndOptions() throws -> (TusClient, UploadOptions) {
        guard let endpointURL = URL(string: endpoint), let scheme = endpointURL.scheme?.lowercased(),
              scheme == "http" || scheme == "https", endpointURL.host != nil
        else {
            throw CommandFailure(message: "--endpoint \(endpoint.debugDescription) is not an http:// or https:// URL")
        }
        var options = UploadOptions()
        options.chunkSize = chunkSize?.bytes
        options.parallelUploads = parallel
        options.uploadProtocol = uploadProtocol
        options.retryPolicy.retries = retries
        options.stallTimeout = stallTimeout.seconds > 0 ? stallTimeout.duration : nil
        options.checksum = checksum
        options.keepsURLAfterSuccess = keepURL
        options.requiresStore = requireStore
        options.fingerprint = switch fingerprint {
        case .md5: MD5Fingerprint()
        case .sha256: SHA256Fingerprint()
        }
        for item in metadata {
            guard let equals = item.firstIndex(of: "=") else {
                throw CommandFailure(message: "--metadata \(item.debugDescription) is not key=value")
            }
            options.metadata[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        for item in header {
            guard let colon = item.firstIndex(of: ":"), !item[..<colon].trimmingCharacters(in: .whitespaces).isEmpty else {
                // A header may hold a secret: only its first word is shown.
                let name = item.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
                throw CommandFailure(message: "--header \(name.debugDescription)… is not 'Name: value' (a colon after the name); the rest is not shown, as it may hold a secret")
            }
            options.headers[item[..<colon].trimmingCharacters(in: .whitespaces)] =
                item[item.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var tls = TLSSettings()
        if !cacert.isEmpty { tls.trustRoots = .systemAnd(certificateFiles: cacert) }
        if let cert { tls.clientCertificate = ClientCertificate(certificateFile: cert, privateKeyFile: key ?? cert) }
        if insecure {
            tls.verifiesServerCertificate = false
            printWarning("warning: --insecure: the server's certificate is not checked; anyone on the path can read and change this upload")
        }
        return (TusClient(url: endpointURL, tls: tls), options)
    }

    /// Uploads one file, or standard input; its URL is the last line on
    /// standard output.
    private func uploadOne(_ file: String, client: TusClient, options: UploadOptions, store spec: StoreSpec?) async throws {
        var options = options
        let readsStandardInput = file == "-"
        if !readsStandardInput {
            options.metadata.merge(MediaType.metadata(forPath: file)) { given, _ in given }
        }
        let reporter = ProgressReporter(total: nil, file: file)
        guard let logger = VerboseLog(flags: verbose).logger(say: { reporter.say($0) }) else {
            return try await uploadOne(file, client: client, options: options, store: spec, reporter: reporter)
        }
        try await withLogger(logger) { _ in
            try await uploadOne(file, client: client, options: options, store: spec, reporter: reporter)
        }
    }

    /// Uploads one file, or standard input, reporting through `reporter`.
    private func uploadOne(
        _ file: String, client: TusClient, options: UploadOptions, store spec: StoreSpec?, reporter: ProgressReporter
    ) async throws {
        var options = options
        let readsStandardInput = file == "-"
        let storage = try spec?.openForUpload(required: options.requiresStore) { reporter.say(UploadNotices.storeWarning($0)) }
        options.storage = storage
        defer { if let storage { Task { try? await storage.close() } } }

        let notices = UploadNotices(reporter: reporter)
        options.onEvent = { notices.tell($0) }
        let uploader = readsStandardInput
            ? try await client.uploader(for: FileHandle.standardInput, options: options)
            : try await client.uploader(forFileAtPath: file, options: options)
        reporter.setTotal(uploader.size)
        if readsStandardInput && !uploader.isResumable {
            reporter.say("standard input is a stream: a later run cannot resume this upload")
        }
        if JSONLines.enabled {
            reporter.emit("started", [
                "size": uploader.size, "url": uploader.isResuming ? uploader.url.map(\.shown) : nil,
                "resumed_from": uploader.isResuming ? uploader.offset : nil,
            ])
        } else if uploader.isResuming, let url = uploader.url {
            reporter.say("resuming \(url.shown) from offset \(uploader.offset)")
        } else if uploader.isResuming {
            reporter.say("resuming the upload's parts with \(uploader.offset) bytes confirmed by the server")
        }

        // Signals are caught before the upload starts, so none slips through.
        let pending = PendingCancellation()
        let interruption = Interruption { pending.cancel() }
        let task = Task { try await uploader.upload { reporter.update($0) } }
        pending.attach { task.cancel() }
        do {
            let url = try await task.value
            reporter.finish()
            interruption.stop()
            try await storage?.close()
            if JSONLines.enabled { reporter.emit("finished", ["url": url.shown]) }
            print(url.absoluteString)
        } catch is CancellationError {
            reporter.finish()
            let resumable = spec != nil && uploader.key != nil
            if JSONLines.enabled {
                reporter.emit("interrupted", ["bytes": uploader.offset, "resumable": resumable])
            } else {
                let how = resumable ? "; run the same command again to resume" : ""
                reporter.say("interrupted with \(uploader.offset) bytes confirmed by the server\(how)")
            }
            try? await storage?.close()
            Foundation.exit(interruption.signal.map { 128 + $0 } ?? ExitStatus.failure)
        } catch {
            reporter.finish()
            throw error
        }
    }
}

/// How `tus upload` shows progress.
enum ProgressFormat: String, ExpressibleByArgument, CaseIterable {
    /// A bar or plain lines, for people.
    case bar
    /// JSON lines (see ``JSONLines``), for programs.
    case json
}
