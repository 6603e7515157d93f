#include <stdio.h>
int main(void) { puts("fleetmedic-agent " FM_VERSION); return 0; }
