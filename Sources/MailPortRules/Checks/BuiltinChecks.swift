/// Every built-in check, by rule id. A rule in `Rules/` without a `match:` must name one of these.
public enum BuiltinChecks {
    public static let all: [String: any RuleCheck] = {
        let checks: [any RuleCheck] = [
            PortSMTPCheck(), PortPOP3Check(), PortIMAPCheck(),
            PreferSubmissionCheck(), PreferSubmissionsCheck(), PreferIMAPSCheck(), PreferPOP3SCheck(),
            StartTLSMissingCheck(), AuthCleartextCheck(), StartTLSFailedCheck(), StartTLSInjectionCheck(),
            TLSAbsentCheck(), LegacyProtocolCheck(), NoModernProtocolCheck(), WeakCipherCheck(),
            CertificateExpiredCheck(), CertificateExpiringCheck(), CertificateUntrustedCheck(),
            CertificateNameMismatchCheck(), CertificateWeakKeyCheck(), CertificateWeakSignatureCheck(),
            IMAPPreauthCheck(), ServiceUnexpectedCheck(), ServiceUnresponsiveCheck(), ProtocolViolationCheck(),
            BannerDisclosureCheck(), WaiverExpiredCheck(), OpenRelayCheck(), VRFYCheck(), RecipientEnumerationCheck(),
            DomainNXDomainCheck(), DNSLookupFailedCheck(), DomainMXMissingCheck(), DomainMXCNAMECheck(),
            DomainMXAddressLiteralCheck(), DomainMXNoAddressCheck(), DomainMXCertificateNameCheck(),
            DomainSRVCleartextOnlyCheck(), DomainSRVUnreachableCheck(),
            MTASTSMissingCheck(), MTASTSRecordInvalidCheck(), MTASTSPolicyUnavailableCheck(),
            MTASTSPolicyInvalidCheck(), MTASTSNotEnforcedCheck(), MTASTSMaxAgeShortCheck(), MTASTSMXNotCoveredCheck(),
            MTASTSMXCertificateInvalidCheck(), TLSRPTMissingCheck(), TLSRPTInvalidCheck(), DANETLSAMismatchCheck(),
            DANETLSAUnsignedCheck(), DANETLSAUnusableCheck(), DANEMissingCheck(), MXRefusesDomainCheck(),
        ]
        return Dictionary(uniqueKeysWithValues: checks.map { ($0.id, $0) })
    }()
}
