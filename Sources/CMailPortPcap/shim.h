// The system libpcap (Debian: libpcap-dev), used by SYN discovery.
#include <pcap/pcap.h>
