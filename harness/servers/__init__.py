"""The test servers: real peers (Kamailio, baresip, sipp, Wyoming) and scripted ones, on 127.0.0.1."""
