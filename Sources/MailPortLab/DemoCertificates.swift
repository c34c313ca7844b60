import Foundation

/// Certificates for `mailport demo` and the tests' TLS lab servers, made once with the openssl command line
/// (valid 2026-11-25 to 2036). FOR DEMO USE ONLY: the private keys are published here, so nothing may trust them.
///
/// - A demo CA ("MailPort Demo CA (not trusted anywhere)"), passed to the scanner as `--ca-file` by `mailport demo`.
/// - A leaf it signed for mail.demo.mailport.test, 127.77.0.2 and 127.77.0.4 (EC P-256).
/// - A self-signed certificate for legacy.demo.mailport.test (RSA 2048), which no CA vouches for.
public enum DemoCertificates {
    public static let caCertificate = """
        -----BEGIN CERTIFICATE-----
        MIIB+TCCAZ+gAwIBAgIUAzaAbMndFzf4+Q2lKqW81+kOIgswCgYIKoZIzj0EAwIw
        SjEWMBQGA1UECgwNTWFpbFBvcnQgZGVtbzEwMC4GA1UEAwwnTWFpbFBvcnQgRGVt
        byBDQSAobm90IHRydXN0ZWQgYW55d2hlcmUpMB4XDTI2MTEyNTEzMDYwMloXDTM2
        MTEyMjEzMDYwMlowSjEWMBQGA1UECgwNTWFpbFBvcnQgZGVtbzEwMC4GA1UEAwwn
        TWFpbFBvcnQgRGVtbyBDQSAobm90IHRydXN0ZWQgYW55d2hlcmUpMFkwEwYHKoZI
        zj0CAQYIKoZIzj0DAQcDQgAEIorUtEjRLlTF82Wt5j+t/ft3415ycoJvRLFsNd6h
        2+T5DycehDaUOSRn9rVmcp8wPX+EkpM7bZWKAkgN7GoQCKNjMGEwHQYDVR0OBBYE
        FLa3r4UCSyQXt0MTJHb5YyyBuBYjMB8GA1UdIwQYMBaAFLa3r4UCSyQXt0MTJHb5
        YyyBuBYjMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49
        BAMCA0gAMEUCIQCSy+GLXb0mzVdI5In/l8c6tiiRG77ckD0ABt/kqGITEwIgaw+g
        zrteNGimoW64gpEJtjAw4YgcR/vxLDs2a4SqcZw=
        -----END CERTIFICATE-----
        """

    public static let leafCertificate = """
        -----BEGIN CERTIFICATE-----
        MIICATCCAaigAwIBAgIUENc8CMA6gn9W8WhlTZLGzjy7UAQwCgYIKoZIzj0EAwIw
        SjEWMBQGA1UECgwNTWFpbFBvcnQgZGVtbzEwMC4GA1UEAwwnTWFpbFBvcnQgRGVt
        byBDQSAobm90IHRydXN0ZWQgYW55d2hlcmUpMB4XDTI2MTEyNTEzMDYwMloXDTM2
        MTEyMjEzMDYwMlowIjEgMB4GA1UEAwwXbWFpbC5kZW1vLm1haWxwb3J0LnRlc3Qw
        WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASK5gBYDdBcdmB8p/cAh7xZZx6tTYQM
        sH/SnbgcJOMMNg12u66nYHOTO92JmuiWA8t8R9sOgNIErVzfDQprvBh/o4GTMIGQ
        MC4GA1UdEQQnMCWCF21haWwuZGVtby5tYWlscG9ydC50ZXN0hwR/TQAChwR/TQAE
        MAkGA1UdEwQCMAAwEwYDVR0lBAwwCgYIKwYBBQUHAwEwHQYDVR0OBBYEFEn0GD2U
        i4ooIu+uLqaHb2oBoQR+MB8GA1UdIwQYMBaAFLa3r4UCSyQXt0MTJHb5YyyBuBYj
        MAoGCCqGSM49BAMCA0cAMEQCIEHhMq+tnOVvkEpif6IM8L9AbmI27Qe2C3KtMEdE
        tMkdAiBiHoxzfj5IQEP/AYwiEQA0HfwNrbDNiOSzU3+zHo4mqQ==
        -----END CERTIFICATE-----
        """

    public static let leafKey = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3vRm9PX3zIpyO23A
        6u1l1DSsnoVEt98HYfus9+nrHZmhRANCAASK5gBYDdBcdmB8p/cAh7xZZx6tTYQM
        sH/SnbgcJOMMNg12u66nYHOTO92JmuiWA8t8R9sOgNIErVzfDQprvBh/
        -----END PRIVATE KEY-----
        """

    public static let selfSignedCertificate = """
        -----BEGIN CERTIFICATE-----
        MIIDTzCCAjegAwIBAgIUFzjxcu/fjz/el05HDH9LUVedMn0wDQYJKoZIhvcNAQEL
        BQAwJDEiMCAGA1UEAwwZbGVnYWN5LmRlbW8ubWFpbHBvcnQudGVzdDAeFw0yNjEx
        MjUxMzA2MDJaFw0zNjExMjIxMzA2MDJaMCQxIjAgBgNVBAMMGWxlZ2FjeS5kZW1v
        Lm1haWxwb3J0LnRlc3QwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCU
        PqeYO8V0Cetx3uPU06coWS0M/MAERSAEiETzB+0YP5IyoTD1Sy6I0m4gk3sYMI3H
        1h5lN3tqCwcOij03rgZUtshaK/0/dAZ2vUzPhAI9rlyV+76DpRnZ9JWO1BgmsrNW
        pHKDGE4dgHGpdGPFXaRSFQLLPH1Fg/2NXvpUpoVSoI//msSEDZYlFX6ltGLGy29x
        UrPrPXWuNajJp/j5s8iClxLVBnlw6uetPwb3+St8KSBfNwNyJjIJZWlGuEpynXcG
        U1+3mpvEicgCDGjcMpxAD7/J+2mt9zXAQFr0aaTeCpQRZm0GFjAGrHpAHsVJw+Sn
        tvB+50xLu3dJTTZeOiHvAgMBAAGjeTB3MB0GA1UdDgQWBBQhRo1tq2gxmDZymSLl
        pkS/qIAl9zAfBgNVHSMEGDAWgBQhRo1tq2gxmDZymSLlpkS/qIAl9zAPBgNVHRMB
        Af8EBTADAQH/MCQGA1UdEQQdMBuCGWxlZ2FjeS5kZW1vLm1haWxwb3J0LnRlc3Qw
        DQYJKoZIhvcNAQELBQADggEBAHaMbmwTtedsG8qeLFYmwaZmccH8wJeiFU+NVByS
        tZ1FFbeL8jmyqwCE9hyMt/Z/BkEj8OqdWpMgAqRyAI7onOHeTYEZtiAEp55kP0JF
        go51zGHW+xUEO4Y8yGpybvl+0AYKoGhgNTTcM5LXXSKY8Fmt8bhMdnsIOQN+qkFz
        rVSmZx23yOesE6ZY6zDq1PhCykYUt8BDufKzP+Z/y4eqjJtotFxk1xT49NRo1nl9
        hcHZQ4VitTQ05/QymGX9PGTk2RTFQt42UNHAe0Hp6BrpJfnb5NANAKaVPFR4JGJV
        +29ZIGkHG8prsPi6CXbyBrthSfsra9ySAGjzCq15Yoj3tAg=
        -----END CERTIFICATE-----
        """

    public static let selfSignedKey = """
        -----BEGIN PRIVATE KEY-----
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCUPqeYO8V0Cetx
        3uPU06coWS0M/MAERSAEiETzB+0YP5IyoTD1Sy6I0m4gk3sYMI3H1h5lN3tqCwcO
        ij03rgZUtshaK/0/dAZ2vUzPhAI9rlyV+76DpRnZ9JWO1BgmsrNWpHKDGE4dgHGp
        dGPFXaRSFQLLPH1Fg/2NXvpUpoVSoI//msSEDZYlFX6ltGLGy29xUrPrPXWuNajJ
        p/j5s8iClxLVBnlw6uetPwb3+St8KSBfNwNyJjIJZWlGuEpynXcGU1+3mpvEicgC
        DGjcMpxAD7/J+2mt9zXAQFr0aaTeCpQRZm0GFjAGrHpAHsVJw+SntvB+50xLu3dJ
        TTZeOiHvAgMBAAECggEAG8OIO9il6E+bSt5FqSximAnriA0mISaZEoA6+ZE4dFwj
        k1vhAW+tLW7LtUopuaQOSajuVGKJuJiMH8sAIBd1lBQPfePTMDkYpNBbPFoq2UZ4
        jJZzXdBkAQ/vmqpaQ5UgRU/TKn440wmlP+lObj5VchIBTfLsO0K3D+0D0SrGuWyT
        zStbyB3QkNo+GSHDq5BktM7WbNTQNjhw35R70EMFYZAc/s/eLaChqyE0W7/qJcJk
        1pbGEhGwPVEjbMNaXumx80wRDBaxsaH4odUwR6jsHV9e4mZY5G9+aE/kvOCys9xn
        zEuJNUyiaPjyXz2APVZNVBPrLCxqc8F9FXffydUjEQKBgQDHxrcYJ+Ot8ggjEo5o
        NFRuOjmDbtrzpjO8h/YxIWU8ELnkDIrc22rEfWvc7H5VirwCJsJ1W2ApJ3eWheV+
        VhTeiNRasr2kAJ8xa4jbvGhhjUuEsQoHlf97YwyFzD7+QHEs8axQiD6z2rcX/Dru
        h8MzC05z2gAx0fjyJ3QGUznBwwKBgQC99z+sycFbZm1dLEi1wfnbRZ/b2szGIQW8
        3m2XMM6TsNzruqhPAZCrw5mb/PUk1Nc5+091Fab+LseOTWJP7DonrKICuLLMoEH5
        VFvg87b2R+fOxT0RRuNal6NFZMoB//As6wOfP4Yl/5aKGS1kUXz8+wgZ3O75bzUX
        Z2hdxJGQZQKBgGTYAHCnIh0aQdVCdrRPRhdmOMYJ3WiEizUuBK6ERw/s+YkOc8JM
        2DZbgWlBz/vqTkFfw2VuPLpJe+p1qIT/ewViWJ93/pac4b8Woz0YfDBSHL7ch02R
        ACgOtbGMinfZm8euLudv/wbW7vmijzT9PyGzIWUFtHdxoJLMK5tNw6f1AoGBAKER
        01uedeQZpQErWztBjajuD+1KR/Z2aXcK4cEgEQgJHkiBq9PRb+kzoDsy8GiaTyNK
        gsSz5zP+VhXCZ2l80pJxPa0xDemSuF2/uWezPZ70uQgJFQ5hHMTjbfyYyO+JIwvy
        +M89/XCalfnh/yrgLSoTb3r+aWH1eP6vHz7iPMpBAoGAa6mn2mx+lmB6qutF58c8
        PZkDEdNUTYKUQdKcdHWwAMrr8jMpXeYtzyOoL917I9QC2xawt72y8J3NC0GJR0kR
        hpkJJkq/UvsPiPhS3xOxol7UrF6XuT5FR9cmJghY7aG/ZBrszFtlaZPipv4b1fKa
        kw5VTe/HuAez2De9Vd2+1Qo=
        -----END PRIVATE KEY-----
        """

    /// Writes a PEM text to a private temporary file (OpenSSL loads certificates and keys from files).
    public static func write(_ pem: String, named name: String) throws -> String {
        let directory = NSTemporaryDirectory() + "mailport-demo-\(getpid())"
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let path = directory + "/" + name
        try (pem + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
