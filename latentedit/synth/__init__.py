"""latentedit.synth"""
