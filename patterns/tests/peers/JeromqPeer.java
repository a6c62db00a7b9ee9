/*
 * A JeroMQ (ZMTP 2.0) peer for the Monocoque interop tests.
 *
 * Compile: javac -cp /usr/share/java/jeromq.jar -d DIR JeromqPeer.java
 * Run:     java -cp /usr/share/java/jeromq.jar:DIR JeromqPeer ARGS
 *
 * Prints "ENDPOINT <endpoint>" once it has bound (or "STARTED" once it has
 * connected), runs one exchange, then prints "OK <count>" or "FAIL <reason>"
 * and exits (status 0 only on OK). Every wait is bounded by --timeout-ms.
 *
 * Arguments:
 *   --type T          REQ REP DEALER ROUTER PUB SUB XPUB XSUB PUSH PULL PAIR
 *   --bind HOST       e.g. tcp://127.0.0.1 (binds a random port); a full
 *                     endpoint with a numeric port is bound as given
 *   --connect EP      e.g. tcp://127.0.0.1:5555
 *   --mode M          echo | request | push | pull | collect | publish | subscribe
 *   --sizes LIST      comma-separated payload sizes (default 0,1,100,1000,70000)
 *   --identity ID     socket identity, set before bind/connect
 *   --envelope        (DEALER request) prefix each request with an empty frame
 *   --timeout-ms N    bound on every wait (default 10000)
 *   --linger-ms N     linger applied when closing after success (default 1000;
 *                     the socket otherwise has linger 0, and failures close
 *                     with linger 0)
 *
 * Modes:
 *   echo       (REP ROUTER DEALER PAIR) echo multipart messages unchanged
 *              until one whose last frame is END (echoed too). ROUTER prints
 *              "PEER <identity>" for the routing id of the first message.
 *   request    (REQ DEALER PAIR) one message per size, expect it back byte
 *              for byte, then END.
 *   push       (PUSH) one message per size, then END.
 *   pull       (PULL) receive until END, check sizes and payloads in order.
 *   collect    (PULL, SUB, DEALER...) print "MSG <text>" for each message
 *              (its last frame) until END.
 *   publish    (XPUB) wait for a subscription (first byte 1), print
 *              "SUBSCRIBED <topic>", publish "t"+payload per size, then "tEND".
 *   subscribe  (SUB XSUB) subscribe to "t", print "SUBSCRIBED t", receive
 *              until "tEND", check prefix, sizes and payloads.
 *
 * payload(size)[i] = i % 251.
 */

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.zeromq.ZMQ;
import org.zeromq.ZMQException;

public class JeromqPeer {

    /** Raised to end the exchange with "FAIL <reason>". */
    static final class Failure extends Exception {
        Failure(String reason) {
            super(reason);
        }
    }

    static String type;
    static String bind;
    static String connect;
    static String mode;
    static String identity;
    static boolean envelope;
    static int timeoutMs = 10000;
    static int lingerMs = 1000;
    static List<Integer> sizes = new ArrayList<>();

    static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static byte[] payload(int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i % 251);
        }
        return b;
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            sb.append(String.format("%02x", x & 0xff));
        }
        return sb.toString();
    }

    /** A short description of a frame for failure messages. */
    static String describe(byte[] b) {
        if (b.length <= 16) {
            return b.length + " bytes [" + hex(b) + "]";
        }
        return b.length + " bytes [" + hex(Arrays.copyOf(b, 16)) + "...]";
    }

    static int socketType(String t) throws Failure {
        switch (t.toUpperCase()) {
            case "REQ": return ZMQ.REQ;
            case "REP": return ZMQ.REP;
            case "DEALER": return ZMQ.DEALER;
            case "ROUTER": return ZMQ.ROUTER;
            case "PUB": return ZMQ.PUB;
            case "SUB": return ZMQ.SUB;
            case "XPUB": return ZMQ.XPUB;
            case "XSUB": return ZMQ.XSUB;
            case "PUSH": return ZMQ.PUSH;
            case "PULL": return ZMQ.PULL;
            case "PAIR": return ZMQ.PAIR;
            default: throw new Failure("unknown socket type " + t);
        }
    }

    static void parseArgs(String[] args) throws Failure {
        String sizeList = "0,1,100,1000,70000";
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--envelope")) {
                envelope = true;
                continue;
            }
            if (i + 1 >= args.length) {
                throw new Failure("missing value for " + a);
            }
            String v = args[++i];
            switch (a) {
                case "--type": type = v.toUpperCase(); break;
                case "--bind": bind = v; break;
                case "--connect": connect = v; break;
                case "--mode": mode = v; break;
                case "--sizes": sizeList = v; break;
                case "--identity": identity = v; break;
                case "--timeout-ms": timeoutMs = Integer.parseInt(v); break;
                case "--linger-ms": lingerMs = Integer.parseInt(v); break;
                default: throw new Failure("unknown argument " + a);
            }
        }
        if (type == null) {
            throw new Failure("--type is required");
        }
        if (mode == null) {
            throw new Failure("--mode is required");
        }
        if ((bind == null) == (connect == null)) {
            throw new Failure("exactly one of --bind and --connect is required");
        }
        for (String s : sizeList.split(",")) {
            s = s.trim();
            if (!s.isEmpty()) {
                sizes.add(Integer.parseInt(s));
            }
        }
    }

    // ---- bounded send/receive helpers -------------------------------------

    static void sendFrame(ZMQ.Socket s, byte[] frame, boolean more) throws Failure {
        if (!s.send(frame, more ? ZMQ.SNDMORE : 0)) {
            throw new Failure("timeout");
        }
    }

    static void sendMultipart(ZMQ.Socket s, List<byte[]> frames) throws Failure {
        for (int i = 0; i < frames.size(); i++) {
            sendFrame(s, frames.get(i), i + 1 < frames.size());
        }
    }

    static byte[] recvFrame(ZMQ.Socket s) throws Failure {
        byte[] b = s.recv(0);
        if (b == null) {
            throw new Failure("timeout");
        }
        return b;
    }

    static List<byte[]> recvMultipart(ZMQ.Socket s) throws Failure {
        List<byte[]> frames = new ArrayList<>();
        frames.add(recvFrame(s));
        while (s.hasReceiveMore()) {
            frames.add(recvFrame(s));
        }
        return frames;
    }

    static boolean sameFrames(List<byte[]> a, List<byte[]> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!Arrays.equals(a.get(i), b.get(i))) {
                return false;
            }
        }
        return true;
    }

    static String describeFrames(List<byte[]> frames) {
        StringBuilder sb = new StringBuilder();
        sb.append(frames.size()).append(" frame(s):");
        for (byte[] f : frames) {
            sb.append(' ').append(describe(f));
        }
        return sb.toString();
    }

    // ---- modes -------------------------------------------------------------

    static int echo(ZMQ.Socket s) throws Failure {
        int n = 0;
        boolean peerShown = false;
        while (true) {
            List<byte[]> msg = recvMultipart(s);
            if (type.equals("ROUTER") && !peerShown) {
                say("PEER " + utf8(msg.get(0)));
                peerShown = true;
            }
            sendMultipart(s, msg);
            n++;
            if (Arrays.equals(msg.get(msg.size() - 1), ascii("END"))) {
                return n;
            }
        }
    }

    static List<byte[]> requestBody(byte[] body) {
        List<byte[]> frames = new ArrayList<>();
        if (type.equals("DEALER") && envelope) {
            frames.add(new byte[0]);
        }
        frames.add(body);
        return frames;
    }

    static int request(ZMQ.Socket s) throws Failure {
        for (int size : sizes) {
            List<byte[]> body = requestBody(payload(size));
            sendMultipart(s, body);
            List<byte[]> back = recvMultipart(s);
            if (!sameFrames(body, back)) {
                throw new Failure("echo of " + size + " bytes differs: sent "
                        + describeFrames(body) + ", got " + describeFrames(back));
            }
        }
        List<byte[]> end = requestBody(ascii("END"));
        sendMultipart(s, end);
        List<byte[]> back = recvMultipart(s);
        if (!sameFrames(end, back)) {
            throw new Failure("END not echoed: got " + describeFrames(back));
        }
        return sizes.size();
    }

    static int push(ZMQ.Socket s) throws Failure {
        for (int size : sizes) {
            sendFrame(s, payload(size), false);
        }
        sendFrame(s, ascii("END"), false);
        return sizes.size();
    }

    /** Check received bodies (prefix already stripped) against --sizes. */
    static void checkSequence(List<byte[]> got) throws Failure {
        List<Integer> gotSizes = new ArrayList<>();
        for (byte[] b : got) {
            gotSizes.add(b.length);
        }
        if (!gotSizes.equals(sizes)) {
            throw new Failure("sizes " + gotSizes + " expected " + sizes);
        }
        for (byte[] b : got) {
            if (!Arrays.equals(b, payload(b.length))) {
                throw new Failure("payload of " + b.length + " bytes differs");
            }
        }
    }

    static int pull(ZMQ.Socket s) throws Failure {
        List<byte[]> got = new ArrayList<>();
        while (true) {
            List<byte[]> msg = recvMultipart(s);
            if (msg.size() != 1) {
                throw new Failure("unexpected multipart message: " + describeFrames(msg));
            }
            byte[] m = msg.get(0);
            if (Arrays.equals(m, ascii("END"))) {
                break;
            }
            got.add(m);
        }
        checkSequence(got);
        return got.size();
    }

    /** Prints each one-frame message as "MSG <text>" until END. */
    static int collect(ZMQ.Socket s) throws Failure {
        int n = 0;
        while (true) {
            List<byte[]> msg = recvMultipart(s);
            byte[] m = msg.get(msg.size() - 1);
            if (Arrays.equals(m, ascii("END"))) {
                return n;
            }
            say("MSG " + utf8(m));
            n++;
        }
    }

    static int publish(ZMQ.Socket s) throws Failure {
        if (!type.equals("XPUB")) {
            throw new Failure("publish mode needs --type XPUB");
        }
        while (true) {
            byte[] sub = recvFrame(s);
            if (sub.length >= 1 && sub[0] == 1) {
                say("SUBSCRIBED " + utf8(Arrays.copyOfRange(sub, 1, sub.length)));
                break;
            }
        }
        byte[] t = ascii("t");
        for (int size : sizes) {
            sendFrame(s, concat(t, payload(size)), false);
        }
        sendFrame(s, ascii("tEND"), false);
        return sizes.size();
    }

    static int subscribe(ZMQ.Socket s) throws Failure {
        if (type.equals("SUB")) {
            s.subscribe(ascii("t"));
        } else if (type.equals("XSUB")) {
            sendFrame(s, new byte[] {1, 't'}, false);
        } else {
            throw new Failure("subscribe mode needs --type SUB or XSUB");
        }
        say("SUBSCRIBED t");
        List<byte[]> got = new ArrayList<>();
        while (true) {
            List<byte[]> msg = recvMultipart(s);
            if (msg.size() != 1) {
                throw new Failure("unexpected multipart message: " + describeFrames(msg));
            }
            byte[] m = msg.get(0);
            if (Arrays.equals(m, ascii("tEND"))) {
                break;
            }
            if (m.length < 1 || m[0] != 't') {
                throw new Failure("message without topic t: " + describe(m));
            }
            got.add(Arrays.copyOfRange(m, 1, m.length));
        }
        checkSequence(got);
        return got.size();
    }

    static int run(ZMQ.Socket s) throws Failure {
        switch (mode) {
            case "echo": return echo(s);
            case "request": return request(s);
            case "push": return push(s);
            case "pull": return pull(s);
            case "collect": return collect(s);
            case "publish": return publish(s);
            case "subscribe": return subscribe(s);
            default: throw new Failure("unknown mode " + mode);
        }
    }

    // ---- main --------------------------------------------------------------

    /** Bind; returns the full endpoint. */
    static String doBind(ZMQ.Socket s, String where) {
        int scheme = where.indexOf("://");
        String rest = scheme >= 0 ? where.substring(scheme + 3) : where;
        int colon = rest.lastIndexOf(':');
        boolean hasPort = colon >= 0 && !rest.substring(colon + 1).isEmpty()
                && rest.substring(colon + 1).chars().allMatch(Character::isDigit);
        if (hasPort) {
            s.bind(where);
            return where;
        }
        String host = where;
        if (host.endsWith(":*")) {
            host = host.substring(0, host.length() - 2);
        }
        int port = s.bindToRandomPort(host);
        return host + ":" + port;
    }

    public static void main(String[] args) {
        try {
            parseArgs(args);
        } catch (Failure | NumberFormatException e) {
            say("FAIL " + e.getMessage());
            System.exit(2);
        }

        ZMQ.Context ctx = ZMQ.context(1);
        ZMQ.Socket s = null;
        int status = 1;
        try {
            s = ctx.socket(socketType(type));
            s.setLinger(0);
            s.setReceiveTimeOut(timeoutMs);
            s.setSendTimeOut(timeoutMs);
            if (identity != null) {
                s.setIdentity(identity.getBytes(StandardCharsets.UTF_8));
            }
            if (bind != null) {
                say("ENDPOINT " + doBind(s, bind));
            } else {
                s.connect(connect);
                say("STARTED");
            }
            int count = run(s);
            say("OK " + count);
            status = 0;
            // Give queued outgoing messages (e.g. the final END) a bounded
            // chance to reach the wire before the socket goes away.
            s.setLinger(lingerMs);
        } catch (Failure e) {
            say("FAIL " + e.getMessage());
        } catch (ZMQException e) {
            say("FAIL zmq error " + e.getErrorCode() + ": " + e.getMessage());
        } catch (RuntimeException e) {
            say("FAIL " + e);
        }
        try {
            if (s != null) {
                s.close();
            }
            ctx.term();
        } catch (RuntimeException e) {
            // exiting anyway
        }
        System.exit(status);
    }
}
