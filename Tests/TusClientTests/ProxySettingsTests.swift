import Foundation
import Testing
import TusClient
import TusCore

/// The proxy settings read the environment as curl does.
@Suite struct ProxySettingsTests {
    let http = URL(string: "http://tus.example.com/files/")!
    let https = URL(string: "https://tus.example.com/files/")!

    @Test func httpsProxyFromEitherCaseHTTPProxyOnlyLowerCase() {
        let upper = ProxySettings.environment(["HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://ignored:1"])
        #expect(upper.proxy(for: https) == URL(string: "http://proxy:3128"))
        // curl reads http_proxy in lower case only.
        #expect(upper.proxy(for: http) == nil)
        let lower = ProxySettings.environment(["http_proxy": "proxy.corp:8080"])
        #expect(lower.proxy(for: http) == URL(string: "http://proxy.corp:8080"))
        #expect(lower.proxy(for: https) == nil)
    }

    @Test func allProxyServesBothWhenTheOtherIsUnset() {
        let settings = ProxySettings.environment(["ALL_PROXY": "http://all:1", "https_proxy": "http://secure:2"])
        #expect(settings.proxy(for: http) == URL(string: "http://all:1"))
        #expect(settings.proxy(for: https) == URL(string: "http://secure:2"))
    }

    @Test(arguments: [
        ("example.com", true), (".example.com", true), ("tus.example.com", true), ("ample.com", false),
        ("*", true), ("10.0.0.0/8", false), ("tus.example.com:443", true), ("other.org", false),
    ])
    func noProxyMatchesNamesAndTheNamesUnderThem(entry: String, bypasses: Bool) {
        let settings = ProxySettings.environment(["https_proxy": "http://proxy:3128", "no_proxy": "localhost, \(entry)"])
        #expect((settings.proxy(for: https) == nil) == bypasses)
    }

    @Test func noProxyMatchesAddressBlocks() {
        let settings = ProxySettings.environment(["http_proxy": "http://proxy:3128", "NO_PROXY": "127.0.0.0/8,192.168.1.7"])
        #expect(settings.proxy(for: URL(string: "http://127.4.5.6:1080/files/")!) == nil)
        #expect(settings.proxy(for: URL(string: "http://192.168.1.7/files/")!) == nil)
        #expect(settings.proxy(for: URL(string: "http://192.168.1.8/files/")!) != nil)
    }

    @Test func anEmptyEnvironmentMeansNoProxy() {
        #expect(ProxySettings.environment([:]) == .none)
        #expect(ProxySettings.environment(["https_proxy": "  "]).proxy(for: https) == nil)
    }

    /// A proxy the client cannot use is one error that names it, its
    /// password masked.
    @Test(arguments: ["https://user:s3cret@proxy:3128", "ftp://user:s3cret@proxy:21"])
    func anUnusableProxyIsNamedWithoutItsPassword(proxy: String) async throws {
        let client = TusClient(url: http, proxy: ProxySettings(httpProxy: URL(string: proxy)))
        let error = try await #require(throws: TusError.self) { try await client.capabilities() }
        #expect(error.message.contains("the proxy https://user:***@proxy:3128") || error.message.contains("the proxy ftp://user:***@proxy:21"), "\(error.message)")
        #expect(!error.message.contains("s3cret"))
    }
}
