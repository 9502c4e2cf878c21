import RawStructuredFieldValues

/// Reading and writing the structured fields (RFC 9651) the draft's headers
/// are made of, through apple/swift-http-structured-headers, with failures
/// turned into ``DraftHeaderError``s in words. Internal: the header types
/// beside it are what the rest of the package uses.
enum StructuredFieldText {
    /// The Item that `value` of `header` holds.
    ///
    /// - Parameter expected: what a good value looks like, for the message
    ///   (`expected ?1 or ?0`).
    static func item(_ value: String, header: String, expected: String) throws(DraftHeaderError) -> Item {
        guard !value.allSatisfy({ $0 == " " || $0 == "\t" }) else {
            throw DraftHeaderError(header: header, value: value, problem: "is empty: \(expected)")
        }
        do {
            var parser = StructuredFieldValueParser(Array(value.utf8))
            return try parser.parseItemFieldValue()
        } catch {
            throw DraftHeaderError(header: header, value: value, problem: "is not a structured-field item: \(expected)")
        }
    }

    /// The Dictionary that `value` of `header` holds, in order; empty for an
    /// empty value.
    static func dictionary(
        _ value: String, header: String, expected: String
    ) throws(DraftHeaderError) -> OrderedMap<String, ItemOrInnerList> {
        do {
            var parser = StructuredFieldValueParser(Array(value.utf8))
            return try parser.parseDictionaryFieldValue()
        } catch {
            throw DraftHeaderError(header: header, value: value, problem: "is not a structured-field dictionary: \(expected)")
        }
    }

    /// The non-negative Integer of `value` of `header`, refusing any other
    /// Item with a message that says what it is instead. Parameters after
    /// the number are ignored, as RFC 9651 lets a field grow them.
    static func nonNegativeInteger(_ value: String, header: String, expected: String) throws(DraftHeaderError) -> Int64 {
        let digits = value.trimmingSpaces
        if digits.utf8.count > maximumDigits, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            throw DraftHeaderError(
                header: header, value: value,
                problem: "has more than \(maximumDigits) digits, more than a structured-field integer holds")
        }
        let parsed = try Self.item(value, header: header, expected: expected)
        guard case .integer(let number) = parsed.rfc9651BareItem else {
            throw DraftHeaderError(
                header: header, value: value, problem: "is \(kind(of: parsed.rfc9651BareItem)), not an integer: \(expected)")
        }
        guard number >= 0 else {
            throw DraftHeaderError(header: header, value: value, problem: "is negative: \(expected)")
        }
        return number
    }

    /// The most digits a structured-field Integer has (RFC 9651 §3.3.1).
    static let maximumDigits = 15
    /// The largest structured-field Integer: fifteen nines.
    static let largestInteger: Int64 = 999_999_999_999_999

    /// The text of an Item holding `bareItem`, without parameters.
    static func serialize(_ bareItem: RFC9651BareItem) throws -> String {
        var serializer = StructuredFieldValueSerializer()
        let bytes = try serializer.writeItemFieldValue(Item(bareItem: bareItem, parameters: [:]))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The text of a Dictionary of Integers, in the order given.
    static func serialize(_ members: [(key: String, value: Int64)]) throws -> String {
        var map = OrderedMap<String, ItemOrInnerList>()
        for member in members {
            map[member.key] = .item(Item(bareItem: .integer(member.value), parameters: [:]))
        }
        var serializer = StructuredFieldValueSerializer()
        return String(decoding: try serializer.writeDictionaryFieldValue(map), as: UTF8.self)
    }

    /// The text of a non-negative integer for `header`, or an error in words
    /// for a negative one or one a structured-field Integer cannot hold.
    static func serialize(nonNegative number: Int64, header: String) throws(DraftHeaderError) -> String {
        guard number >= 0 else {
            throw DraftHeaderError(header: header, value: String(number), problem: "is negative; it cannot be sent")
        }
        guard number <= largestInteger, let text = try? serialize(.integer(number)) else {
            throw DraftHeaderError(
                header: header, value: String(number),
                problem: "is more than a structured-field integer holds (\(largestInteger)); it cannot be sent")
        }
        return text
    }

    /// What a bare item is, for messages: "a string", "a boolean".
    static func kind(of bareItem: RFC9651BareItem) -> String {
        switch bareItem {
        case .bool: "a boolean"
        case .integer: "an integer"
        case .decimal: "a decimal"
        case .string: "a string"
        case .undecodedByteSequence: "a byte sequence"
        case .token: "a token"
        case .date: "a date"
        case .displayString: "a display string"
        }
    }
}

extension String {
    /// The string without the spaces and tabs around it.
    fileprivate var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
