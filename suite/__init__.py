"""klif-suite: reproduce, check and extend the KLIF spiking-neuron paper."""

__version__ = "0.1.0"
