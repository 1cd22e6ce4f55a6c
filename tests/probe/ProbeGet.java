// A client as many Java programs are written: java.net.http.HttpClient (Java 11+) with its
// defaults (HTTP/2 preferred, so a plain http:// URL asks for an h2c upgrade; no timeout; no
// redirects followed), the body on stdout whatever the status, exit 1 on an exception. Used by
// tests/probe_clients.rs.
//
//     java ProbeGet URL [--http1]       (--http1: HttpClient.Version.HTTP_1_1)
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class ProbeGet {
    public static void main(String[] args) throws Exception {
        HttpClient.Builder builder = HttpClient.newBuilder();
        if (args.length > 1 && args[1].equals("--http1")) {
            builder.version(HttpClient.Version.HTTP_1_1);
        }
        HttpClient client = builder.build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0])).build();
        try {
            HttpResponse<byte[]> response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
            System.out.write(response.body());
            System.out.flush();
        } catch (Exception e) {
            System.err.println(e);
            System.exit(1);
        }
        System.exit(0);
    }
}
